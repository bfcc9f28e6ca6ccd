// AVX-512 kernels of the fp32 attention forward (cpu/attention.cpp) for head dims that are a
// multiple of 16 up to 128: the scores S = scale Q K^T and the product P V, computed from the
// rows where they lie. OpenBLAS packs both operands of every call, and at these shapes (inner
// dimension head_dim for S; the (rows, len) probabilities for P V) its packing and its zeroing
// of C cost about as much as the products (docs/benchmarks.md). The sums run in another order
// than OpenBLAS's, so the results differ from the OpenBLAS path in the last bits; a run on a
// given CPU is deterministic either way.
#pragma once

#include <cstdint>

namespace sbert::cpu {

// Whether this CPU runs the kernels (AVX-512F) and head_dim fits them.
bool attention_avx512_usable(int64_t head_dim);

// kt (D, ldkt) = K^T for K (len, D) with row stride ldk; columns len .. ldkt - 1 are zeroed.
// ldkt = len rounded up to a multiple of 16.
void pack_keys_t(float* kt, int64_t ldkt, const float* K, int64_t ldk, int64_t len, int64_t D);

// S (rows, len) with row stride lds = scale * Q (rows, D; row stride ldq) . K^T, K^T from
// pack_keys_t.
void attention_scores_avx512(float* S, int64_t lds, const float* Q, int64_t ldq, const float* kt,
                             int64_t ldkt, int64_t rows, int64_t len, int64_t D, float scale);

// O (rows, D; row stride ldo) = diag(inv) . P (rows, len; row stride ldp) . V (len, D; row
// stride ldv): each output row scaled by its inv after the product.
void attention_pv_avx512(float* O, int64_t ldo, const float* P, int64_t ldp, const float* V,
                         int64_t ldv, const float* inv, int64_t rows, int64_t len, int64_t D);

}  // namespace sbert::cpu
