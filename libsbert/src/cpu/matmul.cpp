// nn.Linear on the CPU: GEMMs through cpu/gemm.h (OpenBLAS, split over the OpenMP threads).
#include <algorithm>

#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/simd.h"

namespace sbert::cpu {

namespace {

constexpr int64_t kColBlock = 64;  // columns per task of the column reductions

// acc[j - j0] += sum_r d[r, j] over columns [j0, j1), rows in order (cpu/simd.h clones).
template <class T>
SBERT_SIMD_INLINE void col_sums(double* acc, const T* d, int64_t rows, int64_t n, int64_t j0,
                                int64_t j1) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = d + r * n;
    for (int64_t j = j0; j < j1; ++j) acc[j - j0] += static_cast<double>(row[j]);
  }
}
SBERT_SIMD_CLONES void col_sums_any(double* acc, const float* d, int64_t rows, int64_t n,
                                    int64_t j0, int64_t j1) {
  col_sums(acc, d, rows, n, j0, j1);
}
void col_sums_any(double* acc, const double* d, int64_t rows, int64_t n, int64_t j0, int64_t j1) {
  col_sums(acc, d, rows, n, j0, j1);
}

}  // namespace

template <class T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t rows, int64_t k,
                    int64_t n) {
  if (rows == 0) return;
  // out (rows, n) = bias + inp (rows, k) . weight^T (k, n): the bias is written first and the
  // GEMM adds to it (beta = 1), which saves OpenBLAS's separate pass that zeroes C for beta = 0
  // and our pass adding the bias; the result is the same rounding of (x W^T) + b.
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + n, out + r * n);
  }
  gemm(false, true, rows, n, k, T(1), inp, k, weight, k, bias ? T(1) : T(0), out, n);
}

template <class T>
void matmul_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  if (dinp) {
    // dinp (rows, k) = dout (rows, n) . weight (n, k)
    gemm(false, false, rows, k, n, T(1), dout, n, weight, k, T(0), dinp, k);
  }
  if (dweight) {
    // dweight (n, k) += dout^T (n, rows) . inp (rows, k)
    gemm(true, false, n, k, rows, T(1), dout, n, inp, k, T(1), dweight, k);
  }
  if (dbias) {
    // Column sums in row order, one block of columns per task: the same bits for any
    // thread count.
    const int64_t blocks = (n + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t j0 = blk * kColBlock, j1 = std::min(n, j0 + kColBlock);
      double acc[kColBlock] = {};
      col_sums_any(acc, dout, rows, n, j0, j1);
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
