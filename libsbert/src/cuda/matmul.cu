// nn.Linear on the GPU through cuBLASLt (cuda/blas.cuh), the twin of cpu/matmul.cpp. fp32 in,
// fp32 compute (CUBLAS_COMPUTE_32F: no TF32), so results match OpenBLAS to fp32 rounding.
//
// Row-major (rows, cols) is column-major (cols, rows), so each row-major product is computed
// as its transpose:   out^T (n, rows)  = W^T-as-stored . inp^T      (W stored (n, k) = (k, n) cm)
//                     dinp^T (k, rows) = W-as-stored . dout^T
//                     dW^T (k, n)     += inp^T . dout               (beta = 1: accumulated)
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;

// out[r][j] += bias[j]: the fallback when the bias is not 16-byte aligned for the epilogue.
__global__ void add_bias_kernel(float* out, const float* bias, int64_t rows, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= rows * n) return;
  out[i] += bias[i % n];
}

struct Column {
  const float* dout;
  int64_t n;
  __device__ void operator()(int64_t r, int64_t j, double (&acc)[1]) const {
    acc[0] += static_cast<double>(dout[r * n + j]);
  }
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  if (rows == 0 || n == 0) return;
  SBERT_CHECK(k > 0, "[matmul_forward] k must be positive, got ", k);
  GemmShape s;
  s.trans_a = true;
  s.m = n, s.n = rows, s.k = k;
  s.lda = k, s.ldb = k, s.ldc = n;
  s.bias = bias && aligned16(bias);
  rt.impl().blas.gemm(stream_of(rt), s, weight, inp, out, s.bias ? bias : nullptr);
  if (bias && !s.bias) {
    simt::launch<add_bias_kernel>({grid_for(rows * n, kThreads, "matmul_forward"), kThreads, 0, stream_of(rt)}, out, bias, rows, n);
    SBERT_LAUNCH_CHECK("matmul_forward");
  }
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  if (rows == 0) return;
  if (dinp && k > 0) {
    if (n == 0) {
      SBERT_CUDA_CHECK(
          cudaMemsetAsync(dinp, 0, static_cast<size_t>(rows * k) * sizeof(float), stream_of(rt)));
    } else {
      GemmShape s;
      s.m = k, s.n = rows, s.k = n;
      s.lda = k, s.ldb = n, s.ldc = k;
      rt.impl().blas.gemm(stream_of(rt), s, weight, dout, dinp, nullptr);
    }
  }
  if (dweight && k > 0 && n > 0) {
    GemmShape s;
    s.trans_b = true;
    s.m = k, s.n = n, s.k = rows;
    s.lda = k, s.ldb = n, s.ldc = k;
    s.accumulate = true;
    rt.impl().blas.gemm(stream_of(rt), s, inp, dout, dweight, nullptr);
  }
  if (dbias) {
    launch_column_sums<1>(ColumnOut<1>{{dbias}}, Column{dout, n}, rows, nullptr, n, stream_of(rt),
                          "matmul_backward");
  }
}

}  // namespace sbert::cuda
