// nn.Linear on the CPU through OpenBLAS. Row-major throughout.
#include <cblas.h>

#include "cpu/kernels.h"

namespace sbert::cpu {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  // out (rows, n) = inp (rows, k) . weight^T (k, n)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
              static_cast<int>(n), static_cast<int>(k), 1.0f, inp, static_cast<int>(k), weight,
              static_cast<int>(k), 0.0f, out, static_cast<int>(n));
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out + r * n;
      for (int64_t j = 0; j < n; ++j) o[j] += bias[j];
    }
  }
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  if (dinp) {
    // dinp (rows, k) = dout (rows, n) . weight (n, k)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                static_cast<int>(k), static_cast<int>(n), 1.0f, dout, static_cast<int>(n), weight,
                static_cast<int>(k), 0.0f, dinp, static_cast<int>(k));
  }
  if (dweight) {
    // dweight (n, k) += dout^T (n, rows) . inp (rows, k)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(k),
                static_cast<int>(rows), 1.0f, dout, static_cast<int>(n), inp, static_cast<int>(k),
                1.0f, dweight, static_cast<int>(k));
  }
  if (dbias) {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t r = 0; r < rows; ++r) s += static_cast<double>(dout[r * n + j]);
      dbias[j] += static_cast<float>(s);
    }
  }
}

}  // namespace sbert::cpu
