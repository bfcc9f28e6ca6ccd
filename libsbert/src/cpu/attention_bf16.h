// bf16 attention forward on packed sequences: the CPU twin of cuda/attention_bf16.cu, the same
// math at the same rounding points, so the tensor-core kernel is compared with it tightly (and
// with the fp32 attention of cpu/kernels.h loosely; bounds in docs/kernels.md). bf16 values are
// their 16 bits (core/dtype.h: f32_to_bf16 rounds to nearest even, bf16_to_f32 is exact).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/rng.h"

namespace sbert::cpu {

// Keys per tile of the online softmax. P is rounded to bf16 relative to the running row max of
// the tiles seen so far, so the twin must walk the keys in the kernel's tiles.
constexpr int64_t kAttnBf16KeyTile = 64;

// log2(e) / sqrt(head_dim): scores are kept in log2 units, so exp becomes exp2. Host and device
// use this one expression (the same float).
inline float attn_bf16_scale_log2(int64_t head_dim) {
  return 1.44269504088896341f / std::sqrt(static_cast<float>(head_dim));
}
inline float attn_bf16_scale(int64_t head_dim) {
  return 1.0f / std::sqrt(static_cast<float>(head_dim));
}
constexpr float kAttnBf16Log2e = 1.44269504088896341f;  // lse in log2 units: lse log2(e)
constexpr float kAttnBf16Ln2 = 0.693147180559945309f;   // lse = m ln 2 + log l

// qkv (T, 3H) bf16, head h at columns h*D..h*D+D of each third (as attention_forward's);
// out (T, H) bf16; lse (heads, T) fp32, natural log (may be null). Per (sequence, head, query
// row), over key tiles of kAttnBf16KeyTile:
//   s_j = (q . k_j) * scale_log2 (fp32 sums of exact bf16 products), keys past len excluded
//   m' = max(m, max_j s_j);  c = exp2(m - m');  p_j = exp2(s_j - m')
//   l = l c + sum_j p_j (before dropout);  o = o c + sum_j bf16(p_j F_j) v_j;  m = m'
// then out = bf16(o * (1 / l)), lse = m ln 2 + log l. F: the dropout factors of
// attention_forward (element (h T + t_q) T + t_k), 1 without dropout.
void attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* qkv,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t heads,
                            int64_t head_dim, const DropoutSpec& dropout = {});

// dqkv (T, 3H) bf16 written (dQ | dK | dV); dout, out (T, H) bf16 (out: the forward's output),
// lse (heads, T) the forward's. FlashAttention-2's backward, P recomputed from lse:
//   p_ij = exp2(s_ij - lse_i log2(e))      (s as in the forward, fp32)
//   Delta_i = (sum_{c < D/2} dO_ic O_ic) + (sum_{c >= D/2} dO_ic O_ic)   (two halves, as the
//             kernel's thread pairs add them)
//   dP_ij = (dO_i . v_j) F_ij;   dS_ij = p_ij (dP_ij - Delta_i)     (fp32)
//   dV_j = bf16(sum_i bf16(p_ij F_ij) dO_i)
//   dK_j = bf16(scale sum_i bf16(dS_ij) q_i),   dQ_i = bf16(scale sum_j bf16(dS_ij) k_j)
// with fp32 accumulation, scale = 1 / sqrt(D).
void attention_backward_bf16(uint16_t* dqkv, const uint16_t* dout, const uint16_t* qkv,
                             const uint16_t* out, const float* lse, const int64_t* cu_seqlens,
                             int64_t nseq, int64_t heads, int64_t head_dim,
                             const DropoutSpec& dropout = {});

}  // namespace sbert::cpu
