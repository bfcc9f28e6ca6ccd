// Tensor-core attention (bf16 in and out, fp32 softmax and accumulation), the twin of
// cpu/attention_bf16.h; the fp32 attention of cuda/kernels.h stays the reference. Same rules as
// cuda/kernels.h: device pointers, host sizes, queued on rt's stream, no allocation.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

// ---- attention_bf16.cu: FlashAttention-2-style forward and backward on mma.sync m16n8k16 ----
// qkv (T, 3H) bf16 bits (attention_forward's layout, 16-byte aligned), out (T, H) bf16 bits,
// lse (heads, T) fp32 natural-log log-sum-exp (may be null); cu_seqlens (nseq + 1) on the device.
// head_dim 32, 64 or 128. max_seqlen: the longest sequence, a host-side hint that sizes the
// grid (query tiles of 64 rows); a smaller value stays correct (blocks stride over the tiles),
// only less parallel. Dropout on the probabilities gives attention_forward's masks.
void attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* qkv,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t max_seqlen,
                            int64_t heads, int64_t head_dim, const DropoutSpec& dropout,
                            Runtime& rt);
// dqkv (T, 3H) bf16 written (dQ | dK | dV); dout (T, H) bf16 (16-byte aligned); out, lse the
// forward's. FlashAttention-2's backward without atomics: one kernel owns dQ (per query tile,
// looping over key tiles), another dK and dV (per key tile, looping over query tiles); both
// recompute P from lse, the dropout factors and Delta = rowsum(dO o O). Deterministic.
void attention_backward_bf16(uint16_t* dqkv, const uint16_t* dout, const uint16_t* qkv,
                             const uint16_t* out, const float* lse, const int64_t* cu_seqlens,
                             int64_t nseq, int64_t max_seqlen, int64_t heads, int64_t head_dim,
                             const DropoutSpec& dropout, Runtime& rt);

}  // namespace sbert::cuda
