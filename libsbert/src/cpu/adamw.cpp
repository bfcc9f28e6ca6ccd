// AdamW update and the gradient-clipping reductions, element-wise in float like torch's CPU
// kernels (see cpu/train_kernels.h for the formulas).
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cpu/train_kernels.h"

namespace sbert::cpu {

void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                  const AdamWScalars& s) {
  // Serial here: train/adamw.cpp runs the chunks of the block in parallel. The SSE path does
  // the same IEEE operations in the same order as the scalar tail (sqrt and division are
  // correctly rounded either way), so both give identical bits; it exists because std::sqrt's
  // errno handling keeps the compiler from vectorizing the scalar loop.
  int64_t e = 0;
#if defined(__SSE2__)
  const __m128 decay_mul = _mm_set1_ps(s.decay_mul), omb1 = _mm_set1_ps(s.one_minus_beta1),
               beta2 = _mm_set1_ps(s.beta2), omb2 = _mm_set1_ps(s.one_minus_beta2),
               bc2 = _mm_set1_ps(s.bias_correction2_sqrt), nss = _mm_set1_ps(s.neg_step_size),
               eps = _mm_set1_ps(s.eps);
  for (; e + 4 <= n; e += 4) {
    const __m128 g = _mm_loadu_ps(grad + e);
    const __m128 p = _mm_mul_ps(_mm_loadu_ps(param + e), decay_mul);
    const __m128 m0 = _mm_loadu_ps(m + e);
    const __m128 mm = _mm_add_ps(m0, _mm_mul_ps(omb1, _mm_sub_ps(g, m0)));
    const __m128 vv =
        _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + e), beta2), _mm_mul_ps(_mm_mul_ps(omb2, g), g));
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), bc2), eps);
    _mm_storeu_ps(param + e, _mm_add_ps(p, _mm_div_ps(_mm_mul_ps(nss, mm), denom)));
    _mm_storeu_ps(m + e, mm);
    _mm_storeu_ps(v + e, vv);
  }
#endif
  for (; e < n; ++e) {
    const float g = grad[e];
    const float p = param[e] * s.decay_mul;  // decay_mul is exactly 1 without decay
    // torch lerp with weight < 0.5: self + weight * (end - self)
    const float mm = m[e] + s.one_minus_beta1 * (g - m[e]);
    // mul_(beta2).addcmul_(g, g, value=1 - beta2): self + value * t1 * t2
    const float vv = v[e] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = std::sqrt(vv) / s.bias_correction2_sqrt + s.eps;
    // addcdiv_(m, denom, value=-step_size): self + value * t1 / t2
    param[e] = p + s.neg_step_size * mm / denom;
    m[e] = mm;
    v[e] = vv;
  }
}

double sum_squares(const float* x, int64_t n) {
  constexpr int64_t kChunk = 4096;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(nchunks), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    // Four independent accumulators: the order is fixed, the add latency is hidden.
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t i = b;
    for (; i + 4 <= e; i += 4) {
      s0 += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      s1 += static_cast<double>(x[i + 1]) * static_cast<double>(x[i + 1]);
      s2 += static_cast<double>(x[i + 2]) * static_cast<double>(x[i + 2]);
      s3 += static_cast<double>(x[i + 3]) * static_cast<double>(x[i + 3]);
    }
    for (; i < e; ++i) s0 += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    partial[static_cast<size_t>(c)] = (s0 + s1) + (s2 + s3);
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

void scale_inplace(float* x, int64_t n, float coef) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] *= coef;
}

}  // namespace sbert::cpu
