// nn.Linear on the CPU. float: our packed GEMM (cpu/gemm_packed.h) with the bias (and GELU)
// fused into the store; double (the finite-difference tests): OpenBLAS (cpu/gemm.h).
#include <algorithm>

#include "cpu/gemm.h"
#include "cpu/gemm_packed.h"
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

namespace {

// out (rows, n) = inp (rows, k) . weight^T (k, n) + bias, then GELU when pre_gelu (pre keeps
// the sum when not null). The weight is packed per call: that is n k copies against rows n k
// FMAs, 1-3% at the encoder's token counts (docs/benchmarks.md, gemm_bench's ours+pk).
void linear_packed(float* out, float* pre, bool gelu, const float* inp, const float* weight,
                   const float* bias, int64_t rows, int64_t k, int64_t n) {
  const PackedB w(gemm_best_isa(), true, k, n, weight, k);
  GemmEpilogue ep;
  ep.bias = bias;
  ep.gelu = gelu;
  ep.pre = pre;
  sgemm_packed(false, rows, inp, k, w, false, out, n, ep);
}

// The double path: OpenBLAS with the bias written first and beta = 1 (no pass zeroing C).
void linear_blas(double* out, const double* inp, const double* weight, const double* bias,
                 int64_t rows, int64_t k, int64_t n) {
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + n, out + r * n);
  }
  gemm(false, true, rows, n, k, 1.0, inp, k, weight, k, bias ? 1.0 : 0.0, out, n);
}

// dinp (rows, k) = dout (rows, n) . weight (n, k)
void grad_input(float* dinp, const float* dout, const float* weight, int64_t rows, int64_t k,
                int64_t n) {
  const PackedB w(gemm_best_isa(), false, n, k, weight, k);
  sgemm_packed(false, rows, dout, n, w, false, dinp, k);
}
void grad_input(double* dinp, const double* dout, const double* weight, int64_t rows, int64_t k,
                int64_t n) {
  gemm(false, false, rows, k, n, 1.0, dout, n, weight, k, 0.0, dinp, k);
}

// dweight (n, k) += dout^T (n, rows) . inp (rows, k): OpenBLAS for both types. Ours would pack
// the (rows, k) activations per call and was not faster on the encoder's shapes (gemm_bench,
// docs/benchmarks.md), so it is kept where it measured better: the forward and dinp.
template <class T>
void grad_weight(T* dweight, const T* dout, const T* inp, int64_t rows, int64_t k, int64_t n) {
  gemm(true, false, n, k, rows, T(1), dout, n, inp, k, T(1), dweight, k);
}

}  // namespace

static void matmul_forward_impl(float* out, const float* inp, const float* weight,
                                const float* bias, int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  linear_packed(out, nullptr, false, inp, weight, bias, rows, k, n);
}

static void matmul_forward_impl(double* out, const double* inp, const double* weight,
                                const double* bias, int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  linear_blas(out, inp, weight, bias, rows, k, n);
}

static void matmul_gelu_forward_impl(float* out, float* pre, const float* inp, const float* weight,
                                     const float* bias, int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  linear_packed(out, pre, true, inp, weight, bias, rows, k, n);
}

static void matmul_gelu_forward_impl(double* out, double* pre, const double* inp,
                                     const double* weight, const double* bias, int64_t rows,
                                     int64_t k, int64_t n) {
  if (rows == 0) return;
  double* sum = pre ? pre : out;
  linear_blas(sum, inp, weight, bias, rows, k, n);
  gelu_forward({.out = out, .inp = sum, .n = rows * n});
}

template <class T>
static void matmul_backward_impl(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                                 const T* weight, int64_t rows, int64_t k, int64_t n) {
  if (rows == 0) return;
  if (dinp) grad_input(dinp, dout, weight, rows, k, n);
  if (dweight) grad_weight(dweight, dout, inp, rows, k, n);
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

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                                          \
  void matmul_forward(const MatmulForwardArgs<T>& a) {                                           \
    matmul_forward_impl(a.out, a.inp, a.weight, a.bias, a.rows, a.k, a.n);                       \
  }                                                                                              \
  void matmul_gelu_forward(const MatmulGeluForwardArgs<T>& a) {                                  \
    matmul_gelu_forward_impl(a.out, a.pre, a.inp, a.weight, a.bias, a.rows, a.k, a.n);           \
  }                                                                                              \
  void matmul_backward(const MatmulBackwardArgs<T>& a) {                                         \
    matmul_backward_impl(a.dinp, a.dweight, a.dbias, a.dout, a.inp, a.weight, a.rows, a.k, a.n); \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
