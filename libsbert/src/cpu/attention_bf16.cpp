// The CPU twin of cuda/attention_bf16.cu (math in cpu/attention_bf16.h). Plain loops in the
// kernel's order where it matters (tiles of keys, the rounding of P, the final 1 / l); only the
// order of fp32 additions inside a tile differs from a tensor core's, so the kernel agrees with
// this to about one bf16 unit in the last place of the output.
#include "cpu/attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "core/dtype.h"

namespace sbert::cpu {

namespace {

inline float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

}  // namespace

void attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* qkv,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t heads,
                            int64_t head_dim, const DropoutSpec& dropout) {
  SBERT_CHECK(heads > 0 && head_dim > 0, "[attention_forward_bf16] heads and head_dim must be ",
              "positive, got ", heads, " and ", head_dim);
  const int64_t H = heads * head_dim, D = head_dim, ld = 3 * H, B = kAttnBf16KeyTile;
  const int64_t Ttok = cu_seqlens[nseq];
  const float scale_log2 = attn_bf16_scale_log2(head_dim);
#pragma omp parallel
  {
    std::vector<float> q(static_cast<size_t>(D)), o(static_cast<size_t>(D));
    std::vector<float> kv(static_cast<size_t>(2 * B * D));  // (B, D) keys, then (B, D) values
    std::vector<float> s(static_cast<size_t>(B)), f(static_cast<size_t>(B));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < nseq * heads; ++task) {
      const int64_t sq = task / heads, h = task % heads;
      const int64_t start = cu_seqlens[sq], len = cu_seqlens[sq + 1] - start;
      const uint16_t* Q = qkv + start * ld + h * D;  // (len, D), row stride 3H
      const uint16_t* K = Q + H;
      const uint16_t* V = Q + 2 * H;
      for (int64_t i = 0; i < len; ++i) {
        for (int64_t c = 0; c < D; ++c) q[static_cast<size_t>(c)] = bf16_to_f32(Q[i * ld + c]);
        std::fill(o.begin(), o.end(), 0.0f);
        float m = -INFINITY, l = 0.0f;
        for (int64_t k0 = 0; k0 < len; k0 += B) {
          const int64_t n = std::min(B, len - k0);
          for (int64_t j = 0; j < n; ++j) {
            for (int64_t c = 0; c < D; ++c) {
              kv[static_cast<size_t>(j * D + c)] = bf16_to_f32(K[(k0 + j) * ld + c]);
              kv[static_cast<size_t>((B + j) * D + c)] = bf16_to_f32(V[(k0 + j) * ld + c]);
            }
          }
          float mx = m;
          for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t c = 0; c < D; ++c) {
              acc += q[static_cast<size_t>(c)] * kv[static_cast<size_t>(j * D + c)];
            }
            s[static_cast<size_t>(j)] = acc * scale_log2;
            mx = std::max(mx, s[static_cast<size_t>(j)]);
          }
          const float corr = std::exp2(m - mx);  // 0 on the first tile
          m = mx;
          if (dropout.active()) {
            const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(Ttok) +
                                    static_cast<uint64_t>(start + i)) *
                                       static_cast<uint64_t>(Ttok) +
                                   static_cast<uint64_t>(start + k0);
            dropout_factors(f.data(), dropout, first, n);
          }
          float rs = 0.0f;
          for (int64_t j = 0; j < n; ++j) {
            float p = std::exp2(s[static_cast<size_t>(j)] - m);
            rs += p;
            if (dropout.active()) p *= f[static_cast<size_t>(j)];
            s[static_cast<size_t>(j)] = round_bf16(p);
          }
          l = l * corr + rs;
          for (int64_t c = 0; c < D; ++c) {
            float acc = o[static_cast<size_t>(c)] * corr;
            for (int64_t j = 0; j < n; ++j) {
              acc += s[static_cast<size_t>(j)] * kv[static_cast<size_t>((B + j) * D + c)];
            }
            o[static_cast<size_t>(c)] = acc;
          }
        }
        const float inv = 1.0f / l;
        for (int64_t c = 0; c < D; ++c) {
          out[(start + i) * H + h * D + c] = f32_to_bf16(o[static_cast<size_t>(c)] * inv);
        }
        if (lse) lse[h * Ttok + start + i] = m * kAttnBf16Ln2 + std::log(l);
      }
    }
  }
}

}  // namespace sbert::cpu
