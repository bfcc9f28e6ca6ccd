// AdamW update and the gradient-clipping reductions, element-wise in float like torch's CPU
// kernels (see cpu/train_kernels.h for the formulas).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/train_kernels.h"

namespace sbert::cpu {

void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                  const AdamWScalars& s) {
  // Serial here: train/adamw.cpp runs the chunks of the block in parallel.
  for (int64_t e = 0; e < n; ++e) {
    const float g = grad[e];
    float p = param[e];
    if (s.decay_mul != 1.0f) p = p * s.decay_mul;
    // torch lerp with weight < 0.5: self + weight * (end - self)
    const float mm = m[e] + s.one_minus_beta1 * (g - m[e]);
    // mul_(beta2).addcmul_(g, g, value=1 - beta2): self + value * t1 * t2
    const float vv = v[e] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = std::sqrt(vv) / s.bias_correction2_sqrt + s.eps;
    // addcdiv_(m, denom, value=-step_size): self + value * t1 / t2
    p = p + s.neg_step_size * mm / denom;
    m[e] = mm;
    v[e] = vv;
    param[e] = p;
  }
}

double sum_squares(const float* x, int64_t n) {
  constexpr int64_t kChunk = 4096;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(nchunks), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    double s = 0.0;
    for (int64_t i = b; i < e; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    partial[static_cast<size_t>(c)] = s;
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
