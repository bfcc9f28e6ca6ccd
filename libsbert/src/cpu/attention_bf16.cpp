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

// (len, D) rows of a strided bf16 slice, widened.
void widen_rows(std::vector<float>& dst, const uint16_t* src, int64_t ld, int64_t len, int64_t D) {
  dst.resize(static_cast<size_t>(len * D));
  for (int64_t i = 0; i < len; ++i) {
    for (int64_t c = 0; c < D; ++c)
      dst[static_cast<size_t>(i * D + c)] = bf16_to_f32(src[i * ld + c]);
  }
}

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

void attention_backward_bf16(uint16_t* dqkv, const uint16_t* dout, const uint16_t* qkv,
                             const uint16_t* out, const float* lse, const int64_t* cu_seqlens,
                             int64_t nseq, int64_t heads, int64_t head_dim,
                             const DropoutSpec& dropout) {
  SBERT_CHECK(heads > 0 && head_dim > 0, "[attention_backward_bf16] heads and head_dim must be ",
              "positive, got ", heads, " and ", head_dim);
  const int64_t H = heads * head_dim, D = head_dim, ld = 3 * H;
  const int64_t Ttok = cu_seqlens[nseq];
  const float scale = attn_bf16_scale(head_dim), scale_log2 = attn_bf16_scale_log2(head_dim);
#pragma omp parallel
  {
    std::vector<float> q, k, v, o, dO, pd, ds, f, delta, acc;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < nseq * heads; ++task) {
      const int64_t sq = task / heads, h = task % heads;
      const int64_t start = cu_seqlens[sq], len = cu_seqlens[sq + 1] - start;
      if (len == 0) continue;
      const int64_t hd = h * D;
      widen_rows(q, qkv + start * ld + hd, ld, len, D);
      widen_rows(k, qkv + start * ld + H + hd, ld, len, D);
      widen_rows(v, qkv + start * ld + 2 * H + hd, ld, len, D);
      widen_rows(o, out + start * H + hd, H, len, D);
      widen_rows(dO, dout + start * H + hd, H, len, D);
      const auto at = [D](std::vector<float>& m, int64_t i, int64_t c) -> float& {
        return m[static_cast<size_t>(i * D + c)];
      };
      delta.assign(static_cast<size_t>(len), 0.0f);
      for (int64_t i = 0; i < len; ++i) {
        float lo = 0.0f, hi = 0.0f;
        for (int64_t c = 0; c < D / 2; ++c) lo += at(dO, i, c) * at(o, i, c);
        for (int64_t c = D / 2; c < D; ++c) hi += at(dO, i, c) * at(o, i, c);
        delta[static_cast<size_t>(i)] = lo + hi;
      }
      // (len, len) bf16-rounded P o F and dS, [query][key].
      pd.assign(static_cast<size_t>(len * len), 0.0f);
      ds.assign(static_cast<size_t>(len * len), 0.0f);
      f.assign(static_cast<size_t>(len), 1.0f);
      for (int64_t i = 0; i < len; ++i) {
        const float lse2 = lse[h * Ttok + start + i] * kAttnBf16Log2e;
        if (dropout.active()) {
          const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(Ttok) +
                                  static_cast<uint64_t>(start + i)) *
                                     static_cast<uint64_t>(Ttok) +
                                 static_cast<uint64_t>(start);
          dropout_factors(f.data(), dropout, first, len);
        }
        for (int64_t j = 0; j < len; ++j) {
          float s = 0.0f, dp = 0.0f;
          for (int64_t c = 0; c < D; ++c) s += at(q, i, c) * at(k, j, c);
          for (int64_t c = 0; c < D; ++c) dp += at(dO, i, c) * at(v, j, c);
          const float p = std::exp2(s * scale_log2 - lse2), fj = f[static_cast<size_t>(j)];
          pd[static_cast<size_t>(i * len + j)] = round_bf16(p * fj);
          ds[static_cast<size_t>(i * len + j)] =
              round_bf16(p * (dp * fj - delta[static_cast<size_t>(i)]));
        }
      }
      acc.resize(static_cast<size_t>(D));
      uint16_t* dQ = dqkv + start * ld + hd;
      uint16_t* dK = dQ + H;
      uint16_t* dV = dQ + 2 * H;
      for (int64_t i = 0; i < len; ++i) {  // dQ = scale dS K
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j < len; ++j) {
          const float w = ds[static_cast<size_t>(i * len + j)];
          for (int64_t c = 0; c < D; ++c) acc[static_cast<size_t>(c)] += w * at(k, j, c);
        }
        for (int64_t c = 0; c < D; ++c)
          dQ[i * ld + c] = f32_to_bf16(scale * acc[static_cast<size_t>(c)]);
      }
      for (int64_t j = 0; j < len; ++j) {  // dK = scale dS^T Q, dV = (P o F)^T dO
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t i = 0; i < len; ++i) {
          const float w = ds[static_cast<size_t>(i * len + j)];
          for (int64_t c = 0; c < D; ++c) acc[static_cast<size_t>(c)] += w * at(q, i, c);
        }
        for (int64_t c = 0; c < D; ++c)
          dK[j * ld + c] = f32_to_bf16(scale * acc[static_cast<size_t>(c)]);
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t i = 0; i < len; ++i) {
          const float w = pd[static_cast<size_t>(i * len + j)];
          for (int64_t c = 0; c < D; ++c) acc[static_cast<size_t>(c)] += w * at(dO, i, c);
        }
        for (int64_t c = 0; c < D; ++c) dV[j * ld + c] = f32_to_bf16(acc[static_cast<size_t>(c)]);
      }
    }
  }
}

}  // namespace sbert::cpu
