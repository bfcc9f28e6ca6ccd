// Bounds of the bf16 attention (cuda/attention_bf16.cu, cpu/attention_bf16.cpp) against the
// fp32 attention, derived in docs/kernels.md: the error scales each bf16 rounding multiplies,
// computed from the same inputs. Shared by the [cuda] test and the CPU test of the twin.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "cpu/kernels.h"

namespace sbert::test {

inline std::vector<float> widen(const std::vector<uint16_t>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = bf16_to_f32(v[i]);
  return f;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::fmax(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return m;
}

// |got - ref| <= tol element-wise (tol per element).
inline void check_within(const std::vector<float>& got, const std::vector<float>& ref,
                         const std::vector<double>& tol, const char* what) {
  REQUIRE(got.size() == ref.size());
  REQUIRE(tol.size() == ref.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    const double r = std::isfinite(static_cast<double>(got[i])) ? err / tol[i] : 1e30;
    if (r > worst) worst = r, at = i;
  }
  INFO(what << ": worst element " << at << " of " << ref.size() << ": got "
            << (ref.empty() ? 0.0f : got[at]) << " reference " << (ref.empty() ? 0.0f : ref[at])
            << ", error / tolerance = " << worst);
  CHECK(worst <= 1.0);
}

// A (T, H) = (P o F) |V| / l of the forward: the fp32 attention of qkv with V replaced by |V|.
inline std::vector<float> forward_scales(const std::vector<float>& qkv,
                                         const std::vector<int64_t>& cu, int64_t heads, int64_t D,
                                         const DropoutSpec& spec) {
  const int64_t nseq = static_cast<int64_t>(cu.size()) - 1, T = cu.back(), H = heads * D;
  std::vector<float> x = qkv;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 2 * H; j < 3 * H; ++j) {
      float& e = x[static_cast<size_t>(t * 3 * H + j)];
      e = std::fabs(e);
    }
  }
  std::vector<float> a(static_cast<size_t>(T * H)), lse(static_cast<size_t>(heads * T));
  cpu::attention_forward({.out = a.data(),
                          .lse = lse.data(),
                          .qkv = x.data(),
                          .cu_seqlens = cu.data(),
                          .nseq = nseq,
                          .heads = heads,
                          .head_dim = D,
                          .dropout = spec});
  return a;
}

// Error scales of the bf16 roundings of the backward, in double from the bf16 inputs, packed
// like dqkv (T, 3H):  mq = scale sum_j |dS_ij| |k_j|,  mk = scale sum_i |dS_ij| |q_i|,
// mv = sum_i P_ij F_ij |dO_i|.
inline std::vector<double> backward_scales(const std::vector<float>& qkv,
                                           const std::vector<float>& dout,
                                           const std::vector<float>& out,
                                           const std::vector<float>& lse,
                                           const std::vector<int64_t>& cu, int64_t heads, int64_t D,
                                           const DropoutSpec& spec) {
  const int64_t nseq = static_cast<int64_t>(cu.size()) - 1, T = cu.back(), H = heads * D;
  const int64_t ld = 3 * H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> m(static_cast<size_t>(T * ld), 0.0);
  const auto at = [](const std::vector<float>& v, int64_t i) {
    return static_cast<double>(v[static_cast<size_t>(i)]);
  };
  std::vector<float> f;
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t start = cu[static_cast<size_t>(s)];
    const int64_t len = cu[static_cast<size_t>(s) + 1] - start;
    f.assign(static_cast<size_t>(len), 1.0f);
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t q0 = start * ld + h * D, k0 = q0 + H, v0 = q0 + 2 * H, o0 = start * H + h * D;
      for (int64_t i = 0; i < len; ++i) {
        double delta = 0.0;
        for (int64_t c = 0; c < D; ++c) delta += at(dout, o0 + i * H + c) * at(out, o0 + i * H + c);
        if (spec.active()) {
          const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(T) +
                                  static_cast<uint64_t>(start + i)) *
                                     static_cast<uint64_t>(T) +
                                 static_cast<uint64_t>(start);
          dropout_factors(f.data(), spec, first, len);
        }
        const double l = at(lse, h * T + start + i);
        for (int64_t j = 0; j < len; ++j) {
          double sc = 0.0, dp = 0.0;
          for (int64_t c = 0; c < D; ++c) {
            sc += at(qkv, q0 + i * ld + c) * at(qkv, k0 + j * ld + c);
            dp += at(dout, o0 + i * H + c) * at(qkv, v0 + j * ld + c);
          }
          const double p = std::exp(sc * scale - l),
                       fj = static_cast<double>(f[static_cast<size_t>(j)]);
          const double ds = std::fabs(p * (dp * fj - delta));
          for (int64_t c = 0; c < D; ++c) {
            m[static_cast<size_t>(q0 + i * ld + c)] +=
                scale * ds * std::fabs(at(qkv, k0 + j * ld + c));
            m[static_cast<size_t>(k0 + j * ld + c)] +=
                scale * ds * std::fabs(at(qkv, q0 + i * ld + c));
            m[static_cast<size_t>(v0 + j * ld + c)] += p * fj * std::fabs(at(dout, o0 + i * H + c));
          }
        }
      }
    }
  }
  return m;
}

}  // namespace sbert::test
