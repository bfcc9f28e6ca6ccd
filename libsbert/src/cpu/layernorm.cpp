// LayerNorm (optionally fused with the residual add) on the CPU. Row statistics in double:
// the rows are short (hidden size) and the extra precision keeps us at fp32 rounding of PyTorch.
//
//   forward:  x = a + b,  mu = mean(x),  rstd = 1 / sqrt(var(x) + eps)  (biased variance),
//             xhat = (x - mu) * rstd,  y = xhat * w + beta
//   backward: g = dy * w,
//             dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//             dw += sum_rows dy * xhat,  dbeta += sum_rows dy
#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"
#include "cpu/simd.h"

namespace sbert::cpu {

namespace {
constexpr int64_t kColBlock = 64;  // columns per task of the parameter-gradient reduction

// sum_j f(j) over [0, C) in double with eight fixed partial sums (lane j mod 8) added in a
// fixed tree: the loop vectorizes, and the bits do not depend on the vector width (cpu/simd.h).
template <class F>
SBERT_SIMD_INLINE double sum8(int64_t C, F&& f) {
  double acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= C; j += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += f(j + l);
  }
  for (int l = 0; j < C; ++j, ++l) acc[l] += f(j);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// One row of the forward; x is where the LayerNorm input is staged (the saved sum, or o).
template <class T>
SBERT_SIMD_INLINE void forward_row(T* o, T* x, T* mean, T* rstd, const T* ar, const T* br,
                                   const T* weight, const T* bias, int64_t C, float eps) {
  if (br) {
    for (int64_t j = 0; j < C; ++j) x[j] = ar[j] + br[j];
  } else if (x != ar) {
    for (int64_t j = 0; j < C; ++j) x[j] = ar[j];
  }
  const double m =
      sum8(C, [&](int64_t j) { return static_cast<double>(x[j]); }) / static_cast<double>(C);
  const double v = sum8(C, [&](int64_t j) {
    const double d = static_cast<double>(x[j]) - m;
    return d * d;
  });
  const T rs =
      static_cast<T>(1.0 / std::sqrt(v / static_cast<double>(C) + static_cast<double>(eps)));
  const T mt = static_cast<T>(m);
  for (int64_t j = 0; j < C; ++j) o[j] = (x[j] - mt) * rs * weight[j] + bias[j];
  if (mean) *mean = mt;
  if (rstd) *rstd = rs;
}

// One row of dinp; dy = dout (+ dout2).
template <class T>
SBERT_SIMD_INLINE void backward_row(T* dx, const T* dout, const T* dout2, const T* x,
                                    const T* weight, T m, T rs, int64_t C) {
  const auto dy = [&](int64_t j) { return dout2 ? dout[j] + dout2[j] : dout[j]; };
  const double sg = sum8(C, [&](int64_t j) { return static_cast<double>(dy(j) * weight[j]); });
  const double sgx = sum8(C, [&](int64_t j) {
    const T xh = (x[j] - m) * rs;
    return static_cast<double>(dy(j) * weight[j]) * static_cast<double>(xh);
  });
  const T mg = static_cast<T>(sg / static_cast<double>(C));
  const T mgx = static_cast<T>(sgx / static_cast<double>(C));
  for (int64_t j = 0; j < C; ++j) {
    const T xh = (x[j] - m) * rs;
    dx[j] = rs * (dy(j) * weight[j] - mg - xh * mgx);
  }
}

SBERT_SIMD_CLONES void forward_row_any(float* o, float* x, float* mean, float* rstd,
                                       const float* ar, const float* br, const float* weight,
                                       const float* bias, int64_t C, float eps) {
  forward_row(o, x, mean, rstd, ar, br, weight, bias, C, eps);
}
SBERT_SIMD_CLONES void backward_row_any(float* dx, const float* dout, const float* dout2,
                                        const float* x, const float* weight, float m, float rs,
                                        int64_t C) {
  backward_row(dx, dout, dout2, x, weight, m, rs, C);
}
void forward_row_any(double* o, double* x, double* mean, double* rstd, const double* ar,
                     const double* br, const double* weight, const double* bias, int64_t C,
                     float eps) {
  forward_row(o, x, mean, rstd, ar, br, weight, bias, C, eps);
}
void backward_row_any(double* dx, const double* dout, const double* dout2, const double* x,
                      const double* weight, double m, double rs, int64_t C) {
  backward_row(dx, dout, dout2, x, weight, m, rs, C);
}
// sw[j - j0] += sum_r dy xhat, sb[j - j0] += sum_r dy over columns [j0, j1), rows in order.
template <class T>
SBERT_SIMD_INLINE void param_grad_block(double* sw, double* sb, const T* dout, const T* dout2,
                                        const T* inp, const T* mean, const T* rstd, int64_t rows,
                                        int64_t C, int64_t j0, int64_t j1) {
  for (int64_t r = 0; r < rows; ++r) {
    const T m = mean[r], rs = rstd[r];
    const T* x = inp + r * C;
    const T* d = dout + r * C;
    const T* d2 = dout2 ? dout2 + r * C : nullptr;
    for (int64_t j = j0; j < j1; ++j) {
      const T xh = (x[j] - m) * rs;
      const double dy = static_cast<double>(d2 ? d[j] + d2[j] : d[j]);
      sw[j - j0] += dy * static_cast<double>(xh);
      sb[j - j0] += dy;
    }
  }
}
SBERT_SIMD_CLONES void param_grad_block_any(double* sw, double* sb, const float* dout,
                                            const float* dout2, const float* inp, const float* mean,
                                            const float* rstd, int64_t rows, int64_t C, int64_t j0,
                                            int64_t j1) {
  param_grad_block(sw, sb, dout, dout2, inp, mean, rstd, rows, C, j0, j1);
}
void param_grad_block_any(double* sw, double* sb, const double* dout, const double* dout2,
                          const double* inp, const double* mean, const double* rstd, int64_t rows,
                          int64_t C, int64_t j0, int64_t j1) {
  param_grad_block(sw, sb, dout, dout2, inp, mean, rstd, rows, C, j0, j1);
}
}  // namespace

template <class T>
static void layernorm_forward_impl(T* out, T* sum, T* mean, T* rstd, const T* a, const T* b,
                                   const T* weight, const T* bias, int64_t rows, int64_t C,
                                   float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + r * C;
    forward_row_any(o, sum ? sum + r * C : o, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr,
                    a + r * C, b ? b + r * C : nullptr, weight, bias, C, eps);
  }
}

template <class T>
static void layernorm_backward_impl(T* dinp, T* dweight, T* dbias, const T* dout, const T* dout2,
                                    const T* inp, const T* weight, const T* mean, const T* rstd,
                                    int64_t rows, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    backward_row_any(dinp + r * C, dout + r * C, dout2 ? dout2 + r * C : nullptr, inp + r * C,
                     weight, mean[r], rstd[r], C);
  }
  // Parameter gradients: column sums in row order, one block of columns per task
  // (deterministic for any thread count).
  const int64_t blocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kColBlock, j1 = std::min(C, j0 + kColBlock);
    double sw[kColBlock] = {}, sb[kColBlock] = {};
    param_grad_block_any(sw, sb, dout, dout2, inp, mean, rstd, rows, C, j0, j1);
    for (int64_t j = j0; j < j1; ++j) {
      dweight[j] += static_cast<T>(sw[j - j0]);
      dbias[j] += static_cast<T>(sb[j - j0]);
    }
  }
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                                           \
  void layernorm_forward(const LayerNormForwardArgs<T>& a) {                                      \
    layernorm_forward_impl(a.out, a.sum, a.mean, a.rstd, a.a, a.b, a.weight, a.bias, a.rows, a.C, \
                           a.eps);                                                                \
  }                                                                                               \
  void layernorm_backward(const LayerNormBackwardArgs<T>& a) {                                    \
    layernorm_backward_impl(a.dinp, a.dweight, a.dbias, a.dout, a.dout2, a.inp, a.weight, a.mean, \
                            a.rstd, a.rows, a.C);                                                 \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
