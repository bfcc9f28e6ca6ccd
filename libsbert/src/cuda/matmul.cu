// nn.Linear on the GPU through cuBLASLt (cuda/blas.cuh), the twin of cpu/matmul.cpp. fp32 in,
// fp32 compute (CUBLAS_COMPUTE_32F: no TF32), so results match OpenBLAS to fp32 rounding; the
// _bf16 / _fp16 variants (cuda/mixed.h) round the operands to bf16 / fp16 first (tensor cores).
//
// Row-major (rows, cols) is column-major (cols, rows), so each row-major product is computed
// as its transpose:   out^T (n, rows)  = W^T-as-stored . inp^T      (W stored (n, k) = (k, n) cm)
//                     dinp^T (k, rows) = W-as-stored . dout^T
//                     dW^T (k, n)     += inp^T . dout               (beta = 1: accumulated)
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/mixed.h"

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

namespace {

// The GEMMs' operand type: fp32, or rounded to bf16 / fp16.
enum class Half { None, BF16, FP16 };

// The operands the GEMMs read: the fp32 tensors themselves, or their bf16 (fp16) copies in the
// Runtime's workspace slots 0 (inp), 1 (weight), 2 (dout).
struct Operands {
  const void* inp;
  const void* weight;
  const void* dout;
};

Operands operands(const float* inp, const float* weight, const float* dout, int64_t rows,
                  int64_t k, int64_t n, Half half, Runtime& rt) {
  if (half == Half::None) return {inp, weight, dout};
  Operands o{nullptr, nullptr, nullptr};
  const auto cast = [&](int slot, const float* x, int64_t count) -> const void* {
    if (!x) return nullptr;
    auto* h = static_cast<uint16_t*>(
        rt.impl().workspace_for(slot, static_cast<size_t>(count) * sizeof(uint16_t)));
    if (half == Half::BF16) {
      to_bf16(h, x, count, rt);
    } else {
      to_f16(h, x, count, rt);
    }
    return h;
  };
  o.inp = cast(0, inp, rows * k);
  o.weight = cast(1, weight, n * k);
  o.dout = cast(2, dout, rows * n);
  return o;
}

void forward_impl(float* out, const float* inp, const float* weight, const float* bias,
                  int64_t rows, int64_t k, int64_t n, Half half, Runtime& rt) {
  if (rows == 0 || n == 0) return;
  SBERT_CHECK(k > 0, "[matmul_forward] k must be positive, got ", k);
  const Operands o = operands(inp, weight, nullptr, rows, k, n, half, rt);
  GemmShape s;
  s.trans_a = true;
  s.m = n, s.n = rows, s.k = k;
  s.lda = k, s.ldb = k, s.ldc = n;
  s.bias = bias && aligned16(bias);
  s.bf16 = half == Half::BF16;
  s.fp16 = half == Half::FP16;
  rt.impl().blas.gemm(stream_of(rt), s, o.weight, o.inp, out, s.bias ? bias : nullptr);
  if (bias && !s.bias) {
    simt::launch<add_bias_kernel>({grid_for(rows * n, kThreads, "matmul_forward"), kThreads, 0, stream_of(rt)}, out, bias, rows, n);
    SBERT_LAUNCH_CHECK("matmul_forward");
  }
}

void backward_impl(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, int64_t rows, int64_t k, int64_t n, Half half,
                   Runtime& rt) {
  if (rows == 0) return;
  const bool gemms = k > 0 && n > 0 && (dinp || dweight);
  const Operands o = gemms ? operands(dweight ? inp : nullptr, dinp ? weight : nullptr, dout, rows,
                                      k, n, half, rt)
                           : Operands{inp, weight, dout};
  if (dinp && k > 0) {
    if (n == 0) {
      SBERT_CUDA_CHECK(
          cudaMemsetAsync(dinp, 0, static_cast<size_t>(rows * k) * sizeof(float), stream_of(rt)));
    } else {
      GemmShape s;
      s.m = k, s.n = rows, s.k = n;
      s.lda = k, s.ldb = n, s.ldc = k;
      s.bf16 = half == Half::BF16;
      s.fp16 = half == Half::FP16;
      rt.impl().blas.gemm(stream_of(rt), s, o.weight, o.dout, dinp, nullptr);
    }
  }
  if (dweight && k > 0 && n > 0) {
    GemmShape s;
    s.trans_b = true;
    s.m = k, s.n = n, s.k = rows;
    s.lda = k, s.ldb = n, s.ldc = k;
    s.accumulate = true;
    s.bf16 = half == Half::BF16;
    s.fp16 = half == Half::FP16;
    rt.impl().blas.gemm(stream_of(rt), s, o.inp, o.dout, dweight, nullptr);
  }
  if (dbias) {
    launch_column_sums<1>(ColumnOut<1>{{dbias}}, Column{dout, n}, rows, nullptr, n, stream_of(rt),
                          "matmul_backward");
  }
}

}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, Half::None, rt);
}

void matmul_forward_bf16(float* out, const float* inp, const float* weight, const float* bias,
                         int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, Half::BF16, rt);
}

void matmul_forward_fp16(float* out, const float* inp, const float* weight, const float* bias,
                         int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, Half::FP16, rt);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, Half::None, rt);
}

void matmul_backward_bf16(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int64_t rows, int64_t k,
                          int64_t n, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, Half::BF16, rt);
}

void matmul_backward_fp16(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int64_t rows, int64_t k,
                          int64_t n, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, Half::FP16, rt);
}

}  // namespace sbert::cuda
