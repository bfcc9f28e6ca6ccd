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

namespace sbert::cpu {

namespace {
constexpr int64_t kColBlock = 64;  // columns per task of the parameter-gradient reduction
}  // namespace

template <class T>
void layernorm_forward(T* out, T* sum, T* mean, T* rstd, const T* a, const T* b, const T* weight,
                       const T* bias, int64_t rows, int64_t C, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* ar = a + r * C;
    const T* br = b ? b + r * C : nullptr;
    T* o = out + r * C;
    T* x = sum ? sum + r * C : o;  // the LayerNorm input, staged in out when not saved
    double s = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      x[j] = br ? ar[j] + br[j] : ar[j];
      s += static_cast<double>(x[j]);
    }
    const double m = s / static_cast<double>(C);
    double v = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double d = static_cast<double>(x[j]) - m;
      v += d * d;
    }
    const T rs =
        static_cast<T>(1.0 / std::sqrt(v / static_cast<double>(C) + static_cast<double>(eps)));
    const T mt = static_cast<T>(m);
    for (int64_t j = 0; j < C; ++j) o[j] = (x[j] - mt) * rs * weight[j] + bias[j];
    if (mean) mean[r] = mt;
    if (rstd) rstd[r] = rs;
  }
}

template <class T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* dout2, const T* inp,
                        const T* weight, const T* mean, const T* rstd, int64_t rows, int64_t C) {
  auto dy_at = [&](int64_t i) { return dout2 ? dout[i] + dout2[i] : dout[i]; };
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * C;
    T* dx = dinp + r * C;
    const T m = mean[r], rs = rstd[r];
    double sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const T xh = (x[j] - m) * rs;
      const T g = dy_at(r * C + j) * weight[j];
      sg += static_cast<double>(g);
      sgx += static_cast<double>(g) * static_cast<double>(xh);
    }
    const T mg = static_cast<T>(sg / static_cast<double>(C));
    const T mgx = static_cast<T>(sgx / static_cast<double>(C));
    for (int64_t j = 0; j < C; ++j) {
      const T xh = (x[j] - m) * rs;
      dx[j] = rs * (dy_at(r * C + j) * weight[j] - mg - xh * mgx);
    }
  }
  // Parameter gradients: column sums in row order, one block of columns per task
  // (deterministic for any thread count).
  const int64_t blocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kColBlock, j1 = std::min(C, j0 + kColBlock);
    double sw[kColBlock] = {}, sb[kColBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T m = mean[r], rs = rstd[r];
      for (int64_t j = j0; j < j1; ++j) {
        const T xh = (inp[r * C + j] - m) * rs;
        const double dy = static_cast<double>(dy_at(r * C + j));
        sw[j - j0] += dy * static_cast<double>(xh);
        sb[j - j0] += dy;
      }
    }
    for (int64_t j = j0; j < j1; ++j) {
      dweight[j] += static_cast<T>(sw[j - j0]);
      dbias[j] += static_cast<T>(sb[j - j0]);
    }
  }
}

#define SBERT_INSTANTIATE(T)                                                                 \
  template void layernorm_forward<T>(T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                     int64_t, int64_t, float);                               \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, const T*, int64_t, int64_t);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert::cpu
