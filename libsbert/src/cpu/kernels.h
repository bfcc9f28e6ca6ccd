// CPU kernels, one pair of free functions per op: name_forward / name_backward.
// Argument order: outputs, saved-for-backward, inputs, parameters, sizes.
//
// THE GRADIENT RULE, everywhere in cpu/ and cuda/: gradients of PARAMETERS are accumulated
// (+=), gradients of ACTIVATIONS are written (=). Callers zero parameter gradients once per
// optimizer step; micro-batches and GradCache chunks then simply add up. Where an activation
// feeds two consumers (a residual branch), the backward kernel that needs their sum takes both
// gradients (dout, dout2) and adds them itself.
//
// Scalar type: every kernel is a template on T, explicitly instantiated for float (the
// library's compute type) and double (the finite-difference gradient tests). fp32 kernels keep
// row statistics (LayerNorm, L2 norm, bias and LayerNorm parameter gradients) in double.
//
// Packed sequences: a batch is one token stream of T = cu_seqlens[nseq] tokens; sequence s is
// rows [cu_seqlens[s], cu_seqlens[s+1]). No padding anywhere.
//
// Determinism: for a fixed thread count every kernel returns bitwise the same result run to
// run (no atomics; reductions over rows run in row order inside one thread per column).
//
// Kernels parallelise with OpenMP over rows, heads or sequences; GEMMs go to OpenBLAS.
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace sbert::cpu {

// ---- matmul.cpp: out = inp . weight^T + bias (nn.Linear) -----------------------------------
// out (rows, n), inp (rows, k), weight (n, k), bias (n) or null.
template <class T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t rows, int64_t k,
                    int64_t n);
// out = gelu(inp . weight^T + bias), the GELU fused into the GEMM's store (float); pre (rows, n)
// receives the sum before GELU when not null (the backward needs it).
template <class T>
void matmul_gelu_forward(T* out, T* pre, const T* inp, const T* weight, const T* bias, int64_t rows,
                         int64_t k, int64_t n);
// dinp (rows, k) written (may be null); dweight (n, k) and dbias (n) accumulated (may be null).
template <class T>
void matmul_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t rows, int64_t k, int64_t n);

// ---- layernorm.cpp ----------------------------------------------------------------------
// out = LN(a + b) with weight/bias over the last dim C. b may be null (plain LayerNorm).
// sum (rows, C) receives a + b when not null (the residual stream, needed by backward when
// b is not null; with b null, backward reads inp = a). mean, rstd (rows) may be null.
template <class T>
void layernorm_forward(T* out, T* sum, T* mean, T* rstd, const T* a, const T* b, const T* weight,
                       const T* bias, int64_t rows, int64_t C, float eps);
// dinp (rows, C) written; dweight, dbias (C) accumulated. The output's gradient is
// dout + dout2 (dout2 may be null: the output has one consumer). inp is the LayerNorm input
// (the `sum` saved by forward when it had a residual). The gradient of a and of b both
// equal dinp.
template <class T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* dout2, const T* inp,
                        const T* weight, const T* mean, const T* rstd, int64_t rows, int64_t C);

// ---- gelu.cpp: exact erf GELU ---------------------------------------------------------------
template <class T>
void gelu_forward(T* out, const T* inp, int64_t n);
// dinp may alias dout.
template <class T>
void gelu_backward(T* dinp, const T* inp, const T* dout, int64_t n);

// ---- dropout.cpp: inverted dropout, the mask regenerated from the spec (core/rng.h) ----------
// out = inp * mask / (1 - p), element e of the (n) tensor using the spec's element index e.
// out may alias inp. An inactive spec copies.
template <class T>
void dropout_forward(T* out, const T* inp, int64_t n, const DropoutSpec& spec);
// dinp = (dout + dout2) * mask / (1 - p); dout2 may be null; dinp may alias dout.
template <class T>
void dropout_backward(T* dinp, const T* dout, const T* dout2, int64_t n, const DropoutSpec& spec);

// ---- attention.cpp: dropout(softmax(Q K^T * scale)) V per sequence and head ------------------
// qkv (T, 3*H) holds [Q | K | V], head h at columns h*D..h*D+D of each third (H = heads*D).
// out (T, H); lse (heads, T) the log-sum-exp of each score row, saved for backward (may be null).
// Dropout on the probabilities: element index (h * T + query token) * T + key token, with
// token indices in the packed stream.
template <class T>
void attention_forward(T* out, T* lse, const T* qkv, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t heads, int64_t head_dim, const DropoutSpec& dropout = {});
// dqkv (T, 3*H) written. Recomputes the probabilities from qkv and lse and the dropout mask
// from the spec (flash-style): nothing of size (len, len) is saved.
template <class T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse,
                        const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                        const DropoutSpec& dropout = {});

// ---- embedding.cpp: word + position + token type ---------------------------------------------
// out (T, C); ids (T); pos_ids (T): each token's row of pos (nn/encoder.h position_ids);
// token type 0.
template <class T>
void embedding_forward(T* out, const int32_t* ids, const int32_t* pos_ids,
                       const int64_t* cu_seqlens, int64_t nseq, const T* word, const T* pos,
                       const T* type, int64_t C);
// dword (V, C), dpos (P, C), dtype (types, C) accumulated, deterministically (no atomics).
// Tokens equal to pad_id add nothing to dword, and tokens at position pos_pad nothing to dpos
// (nn.Embedding(padding_idx=pad_token_id) in Hugging Face: that row never receives a gradient;
// RoBERTa's position table has one too); pad_id / pos_pad < 0: none skipped.
template <class T>
void embedding_backward(T* dword, T* dpos, T* dtype, const T* dout, const int32_t* ids,
                        const int32_t* pos_ids, const int64_t* cu_seqlens, int64_t nseq, int64_t C,
                        int32_t pad_id, int32_t pos_pad);

// ---- pooling.cpp ---------------------------------------------------------------------------
// out (nseq, C): mean over each sequence's tokens ([CLS] and [SEP] included) or its first token.
// Every sequence must have at least one token.
template <class T>
void mean_pool_forward(T* out, const T* inp, const int64_t* cu_seqlens, int64_t nseq, int64_t C);
// dinp (T, C) written.
template <class T>
void mean_pool_backward(T* dinp, const T* dout, const int64_t* cu_seqlens, int64_t nseq, int64_t C);
template <class T>
void cls_pool_forward(T* out, const T* inp, const int64_t* cu_seqlens, int64_t nseq, int64_t C);
// dinp (T, C) written (zero except at each sequence's first token).
template <class T>
void cls_pool_backward(T* dinp, const T* dout, const int64_t* cu_seqlens, int64_t nseq, int64_t C);
// out = inp / max(||inp||, 1e-12) per row (torch.nn.functional.normalize); norm (rows) saved
// (the clamped value).
template <class T>
void l2norm_forward(T* out, T* norm, const T* inp, int64_t rows, int64_t C);
// dinp (rows, C) written.
template <class T>
void l2norm_backward(T* dinp, const T* dout, const T* out, const T* norm, int64_t rows, int64_t C);

}  // namespace sbert::cpu
