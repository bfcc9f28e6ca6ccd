// Sentence pooling over packed sequences and L2 normalization.
//   mean:  y_s = (1 / n_s) sum_{t in s} x_t            dx_t = dy_s / n_s
//   CLS:   y_s = x_{start(s)}                           dx_t = dy_s at t = start(s), else 0
//   L2:    y = x / max(||x||, 1e-12) = x / n            dx = (dy - y <dy, y>) / n
//          (when the norm is clamped, n is a constant:  dx = dy / n)
#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {
constexpr double kNormEps = 1e-12;  // torch.nn.functional.normalize's default eps
}  // namespace

template <class T>
static void mean_pool_forward_impl(T* out, const T* inp, const int64_t* cu_seqlens, int64_t nseq,
                                   int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
    T* o = out + s * C;
    std::fill(o, o + C, T(0));
    for (int64_t t = a; t < b; ++t) {
      for (int64_t j = 0; j < C; ++j) o[j] += inp[t * C + j];
    }
    // sentence-transformers divides by clamp(count, min=1e-9)
    const T inv = T(1) / static_cast<T>(std::max<int64_t>(b - a, 1));
    for (int64_t j = 0; j < C; ++j) o[j] *= inv;
  }
}

template <class T>
static void mean_pool_backward_impl(T* dinp, const T* dout, const int64_t* cu_seqlens, int64_t nseq,
                                    int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
    const T inv = T(1) / static_cast<T>(std::max<int64_t>(b - a, 1));
    for (int64_t t = a; t < b; ++t) {
      for (int64_t j = 0; j < C; ++j) dinp[t * C + j] = dout[s * C + j] * inv;
    }
  }
}

template <class T>
static void cls_pool_forward_impl(T* out, const T* inp, const int64_t* cu_seqlens, int64_t nseq,
                                  int64_t C) {
  for (int64_t s = 0; s < nseq; ++s) {
    std::copy(inp + cu_seqlens[s] * C, inp + (cu_seqlens[s] + 1) * C, out + s * C);
  }
}

template <class T>
static void cls_pool_backward_impl(T* dinp, const T* dout, const int64_t* cu_seqlens, int64_t nseq,
                                   int64_t C) {
  std::fill(dinp, dinp + cu_seqlens[nseq] * C, T(0));
  for (int64_t s = 0; s < nseq; ++s) {
    std::copy(dout + s * C, dout + (s + 1) * C, dinp + cu_seqlens[s] * C);
  }
}

template <class T>
static void l2norm_forward_impl(T* out, T* norm, const T* inp, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      ss += static_cast<double>(inp[r * C + j]) * static_cast<double>(inp[r * C + j]);
    }
    const T n = static_cast<T>(std::max(std::sqrt(ss), kNormEps));
    for (int64_t j = 0; j < C; ++j) out[r * C + j] = inp[r * C + j] / n;
    if (norm) norm[r] = n;
  }
}

template <class T>
static void l2norm_backward_impl(T* dinp, const T* dout, const T* out, const T* norm, int64_t rows,
                                 int64_t C) {
  for (int64_t r = 0; r < rows; ++r) {
    const T n = norm[r];
    double d = 0.0;
    if (static_cast<double>(n) > kNormEps) {  // not clamped: project out the radial part
      for (int64_t j = 0; j < C; ++j) {
        d += static_cast<double>(dout[r * C + j]) * static_cast<double>(out[r * C + j]);
      }
    }
    const T dt = static_cast<T>(d);
    for (int64_t j = 0; j < C; ++j) dinp[r * C + j] = (dout[r * C + j] - out[r * C + j] * dt) / n;
  }
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                 \
  void mean_pool_forward(const PoolForwardArgs<T>& a) {                 \
    mean_pool_forward_impl(a.out, a.inp, a.cu_seqlens, a.nseq, a.C);    \
  }                                                                     \
  void mean_pool_backward(const PoolBackwardArgs<T>& a) {               \
    mean_pool_backward_impl(a.dinp, a.dout, a.cu_seqlens, a.nseq, a.C); \
  }                                                                     \
  void cls_pool_forward(const PoolForwardArgs<T>& a) {                  \
    cls_pool_forward_impl(a.out, a.inp, a.cu_seqlens, a.nseq, a.C);     \
  }                                                                     \
  void cls_pool_backward(const PoolBackwardArgs<T>& a) {                \
    cls_pool_backward_impl(a.dinp, a.dout, a.cu_seqlens, a.nseq, a.C);  \
  }                                                                     \
  void l2norm_forward(const L2NormForwardArgs<T>& a) {                  \
    l2norm_forward_impl(a.out, a.norm, a.inp, a.rows, a.C);             \
  }                                                                     \
  void l2norm_backward(const L2NormBackwardArgs<T>& a) {                \
    l2norm_backward_impl(a.dinp, a.dout, a.out, a.norm, a.rows, a.C);   \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
