// nn.Linear on the CPU through OpenBLAS (sgemm for float, dgemm for double). Row-major.
#include <cblas.h>

#include <algorithm>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

constexpr int64_t kColBlock = 64;  // columns per task of the column reductions

}  // namespace

template <class T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t rows, int64_t k,
                    int64_t n) {
  if (rows == 0) return;
  // out (rows, n) = inp (rows, k) . weight^T (k, n)
  gemm(CblasNoTrans, CblasTrans, rows, n, k, T(1), inp, k, weight, k, T(0), out, n);
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      T* o = out + r * n;
      for (int64_t j = 0; j < n; ++j) o[j] += bias[j];
    }
  }
}

template <class T>
void matmul_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  if (dinp) {
    // dinp (rows, k) = dout (rows, n) . weight (n, k)
    gemm(CblasNoTrans, CblasNoTrans, rows, k, n, T(1), dout, n, weight, k, T(0), dinp, k);
  }
  if (dweight) {
    // dweight (n, k) += dout^T (n, rows) . inp (rows, k)
    gemm(CblasTrans, CblasNoTrans, n, k, rows, T(1), dout, n, inp, k, T(1), dweight, k);
  }
  if (dbias) {
    // Column sums in row order, one block of columns per task: the same bits for any
    // thread count.
    const int64_t blocks = (n + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t j0 = blk * kColBlock, j1 = std::min(n, j0 + kColBlock);
      double acc[kColBlock] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const T* d = dout + r * n;
        for (int64_t j = j0; j < j1; ++j) acc[j - j0] += static_cast<double>(d[j]);
      }
      for (int64_t j = j0; j < j1; ++j) dbias[j] += static_cast<T>(acc[j - j0]);
    }
  }
}

#define SBERT_INSTANTIATE(T)                                                                    \
  template void matmul_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t); \
  template void matmul_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t,  \
                                   int64_t);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert::cpu
