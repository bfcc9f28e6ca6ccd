// LayerNorm (optionally fused with the residual add) on the CPU. Row statistics in double:
// the rows are short (hidden size) and the extra precision keeps us at fp32 rounding of PyTorch.
#include <cmath>

#include "cpu/kernels.h"

namespace sbert::cpu {

void layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* a,
                       const float* b, const float* weight, const float* bias, int64_t rows,
                       int64_t C, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* ar = a + r * C;
    const float* br = b ? b + r * C : nullptr;
    float* o = out + r * C;
    float* x = sum ? sum + r * C : o;  // the LayerNorm input, staged in out when not saved
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
    const float rs = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(C) + static_cast<double>(eps)));
    const float mf = static_cast<float>(m);
    for (int64_t j = 0; j < C; ++j) o[j] = (x[j] - mf) * rs * weight[j] + bias[j];
    if (mean) mean[r] = mf;
    if (rstd) rstd[r] = rs;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean,
                        const float* rstd, int64_t rows, int64_t C) {
  // dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * weight
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = inp + r * C;
    const float* dy = dout + r * C;
    float* dx = dinp + r * C;
    const float m = mean[r], rs = rstd[r];
    double sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const float xh = (x[j] - m) * rs;
      const float g = dy[j] * weight[j];
      sg += static_cast<double>(g);
      sgx += static_cast<double>(g) * static_cast<double>(xh);
    }
    const float mg = static_cast<float>(sg / static_cast<double>(C));
    const float mgx = static_cast<float>(sgx / static_cast<double>(C));
    for (int64_t j = 0; j < C; ++j) {
      const float xh = (x[j] - m) * rs;
      dx[j] = rs * (dy[j] * weight[j] - mg - xh * mgx);
    }
  }
  // Parameter gradients: reduce over rows per column (deterministic order).
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < C; ++j) {
    double sw = 0.0, sb = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const float xh = (inp[r * C + j] - mean[r]) * rstd[r];
      sw += static_cast<double>(dout[r * C + j]) * static_cast<double>(xh);
      sb += static_cast<double>(dout[r * C + j]);
    }
    dweight[j] += static_cast<float>(sw);
    dbias[j] += static_cast<float>(sb);
  }
}

}  // namespace sbert::cpu
