#include "cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace sbert::cpu {

namespace {

inline int I(int64_t v) { return static_cast<int>(v); }

void blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, I(m),
              I(n), I(k), alpha, a, I(lda), b, I(ldb), beta, c, I(ldc));
}

void blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, I(m),
              I(n), I(k), alpha, a, I(lda), b, I(ldb), beta, c, I(ldc));
}

constexpr double kMinFlopsPerThread = 4e6;  // below this a thread costs more than it saves
constexpr int64_t kAlign = 16;              // block edges on multiples of 16 rows / columns

}  // namespace

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const double flops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  int parts = omp_in_parallel() ? 1 : omp_get_max_threads();
  parts = std::max(1, std::min<int>(parts, static_cast<int>(flops / kMinFlopsPerThread)));
  if (parts == 1) {
    blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side of C; op(A) rows come from A's rows (or columns when transposed),
  // op(B) columns from B's columns (or rows when transposed).
  const bool split_rows = m >= n;
  const int64_t len = split_rows ? m : n;
  const int64_t step = (len / parts + kAlign - 1) / kAlign * kAlign;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    const int64_t lo = std::min(len, p * step),
                  hi = p == parts - 1 ? len : std::min(len, lo + step);
    if (hi <= lo) continue;
    if (split_rows) {
      blas(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
           c + lo * ldc, ldc);
    } else {
      blas(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo,
           ldc);
    }
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace sbert::cpu
