// Sentence pooling over packed sequences and L2 normalization.
#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"

namespace sbert::cpu {

void mean_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
    float* o = out + s * C;
    std::fill(o, o + C, 0.0f);
    for (int64_t t = a; t < b; ++t) {
      for (int64_t j = 0; j < C; ++j) o[j] += inp[t * C + j];
    }
    // sentence-transformers divides by clamp(count, min=1e-9)
    const float inv = 1.0f / static_cast<float>(std::max<int64_t>(b - a, 1));
    for (int64_t j = 0; j < C; ++j) o[j] *= inv;
  }
}

void mean_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
    const float inv = 1.0f / static_cast<float>(std::max<int64_t>(b - a, 1));
    for (int64_t t = a; t < b; ++t) {
      for (int64_t j = 0; j < C; ++j) dinp[t * C + j] = dout[s * C + j] * inv;
    }
  }
}

void cls_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                      int64_t C) {
  for (int64_t s = 0; s < nseq; ++s) {
    std::copy(inp + cu_seqlens[s] * C, inp + (cu_seqlens[s] + 1) * C, out + s * C);
  }
}

void cls_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C) {
  std::fill(dinp, dinp + cu_seqlens[nseq] * C, 0.0f);
  for (int64_t s = 0; s < nseq; ++s) {
    std::copy(dout + s * C, dout + (s + 1) * C, dinp + cu_seqlens[s] * C);
  }
}

void l2norm_forward(float* out, float* norm, const float* inp, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int64_t j = 0; j < C; ++j) ss += static_cast<double>(inp[r * C + j]) * static_cast<double>(inp[r * C + j]);
    const float n = std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
    for (int64_t j = 0; j < C; ++j) out[r * C + j] = inp[r * C + j] / n;
    if (norm) norm[r] = n;
  }
}

void l2norm_backward(float* dinp, const float* dout, const float* out, const float* norm,
                     int64_t rows, int64_t C) {
  // y = x / n  =>  dx = (dy - y * <dy, y>) / n   (n clamped at 1e-12: treated as constant there)
  for (int64_t r = 0; r < rows; ++r) {
    double d = 0.0;
    for (int64_t j = 0; j < C; ++j) d += static_cast<double>(dout[r * C + j]) * static_cast<double>(out[r * C + j]);
    const float df = static_cast<float>(d);
    for (int64_t j = 0; j < C; ++j) {
      dinp[r * C + j] = (dout[r * C + j] - out[r * C + j] * df) / norm[r];
    }
  }
}

}  // namespace sbert::cpu
