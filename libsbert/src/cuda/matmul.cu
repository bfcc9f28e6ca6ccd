// nn.Linear on the GPU through cuBLASLt (cuda/blas.cuh), the twin of cpu/matmul.cpp. fp32 in,
// fp32 compute (CUBLAS_COMPUTE_32F: no TF32), so results match OpenBLAS to fp32 rounding; the
// _bf16 / _fp16 variants (cuda/mixed.h) read bf16 / fp16 operands (tensor cores); the bf16 ones
// also fuse the FFN's tanh GELU and the bias gradients into cuBLASLt's epilogues.
//
// Row-major (rows, cols) is column-major (cols, rows), so each row-major product is computed
// as its transpose:   out^T (n, rows)  = W^T-as-stored . inp^T      (W stored (n, k) = (k, n) cm)
//                     dinp^T (k, rows) = W-as-stored . dout^T
//                     dW^T (k, n)     += inp^T . dout               (beta = 1: accumulated)
// In the last, op(B) = dout^T-as-stored transposed, so BGRADB sums dout over rows: dbias.
// A bias-gradient epilogue writes its sums; the gradient rule adds, so they land in the
// Runtime's scratch and one small kernel adds them in.
#include <algorithm>

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

// y[i] += x[i]: an epilogue's bias gradient into the accumulated one.
__global__ void accumulate_kernel(float* y, const float* x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  y[i] += x[i];
}

struct Column {
  const float* dout;
  int64_t n;
  __device__ void operator()(int64_t r, int64_t j, double (&acc)[1]) const {
    acc[0] += static_cast<double>(dout[r * n + j]);
  }
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// dbias (n) += the column sums of dout (rows, n), in double.
void column_sums(float* dbias, const float* dout, int64_t rows, int64_t n, Runtime& rt,
                 const char* op) {
  launch_column_sums<1>(ColumnOut<1>{{dbias}}, Column{dout, n}, rows, nullptr, n, stream_of(rt),
                        op);
}

// A bias gradient's epilogue target: n floats of the Runtime's scratch (16-byte aligned).
float* bias_grad_scratch(int64_t n, Runtime& rt) {
  return static_cast<float*>(rt.impl().scratch_for(static_cast<size_t>(n) * sizeof(float)));
}

void accumulate(float* y, const float* x, int64_t n, Runtime& rt, const char* op) {
  simt::launch<accumulate_kernel>({grid_for(n, kThreads, op), kThreads, 0, stream_of(rt)}, y, x, n);
  SBERT_LAUNCH_CHECK(op);
}

// x rounded to bf16 (fp16) into `into` when given, else into workspace slot `slot`.
const void* cast(int slot, const float* x, int64_t count, GemmOperands half, Runtime& rt,
                 uint16_t* into = nullptr) {
  auto* h = into ? into
                 : static_cast<uint16_t*>(rt.impl().workspace_for(
                       slot, static_cast<size_t>(count) * sizeof(uint16_t)));
  if (half == GemmOperands::BF16) {
    to_bf16(h, x, count, rt);
  } else {
    to_f16(h, x, count, rt);
  }
  return h;
}

// inp's bf16 form when the caller has it or keeps it (the args' inp16 / keep16; only the bf16
// entry points pass them).
struct Bf16Input {
  const uint16_t* given = nullptr;  // read instead of rounding inp
  uint16_t* keep = nullptr;         // inp is rounded here instead of into the workspace
};

// The operands the GEMMs read: the fp32 tensors themselves, or their bf16 (fp16) forms: in bf16
// the weight from the bound copy of the parameter block (bind_bf16_weights) when it lies
// inside, else rounded into workspace slot 1; inp and dout rounded into slots 0 and 2 (inp as
// given, or into the caller's buffer, with in16).
struct Operands {
  const void* inp;
  const void* weight;
  const void* dout;
};

Operands operands(const float* inp, const float* weight, const float* dout, int64_t rows, int64_t k,
                  int64_t n, GemmOperands half, Runtime& rt, Bf16Input in16 = {}) {
  if (half == GemmOperands::F32) return {inp, weight, dout};
  Operands o{nullptr, nullptr, nullptr};
  if (in16.given) {
    o.inp = in16.given;
  } else if (inp) {
    o.inp = cast(0, inp, rows * k, half, rt, in16.keep);
  }
  if (weight) {
    const uint16_t* copy =
        half == GemmOperands::BF16 ? rt.impl().weight_copy_of(weight, n * k) : nullptr;
    if (!copy && half == GemmOperands::BF16) ++rt.impl().weight_casts;
    o.weight = copy ? static_cast<const void*>(copy) : cast(1, weight, n * k, half, rt);
  }
  if (dout) o.dout = cast(2, dout, rows * n, half, rt);
  return o;
}

// out^T (n, rows) = W^T-as-stored . inp^T
GemmShape forward_shape(int64_t rows, int64_t k, int64_t n, GemmOperands half) {
  GemmShape s;
  s.trans_a = true;
  s.m = n, s.n = rows, s.k = k;
  s.lda = k, s.ldb = k, s.ldc = n;
  s.operands = half;
  return s;
}

// dinp^T (k, rows) = W-as-stored . dout^T
GemmShape dinp_shape(int64_t rows, int64_t k, int64_t n, GemmOperands half) {
  GemmShape s;
  s.m = k, s.n = rows, s.k = n;
  s.lda = k, s.ldb = n, s.ldc = k;
  s.operands = half;
  return s;
}

// dW^T (k, n) += inp^T . dout
GemmShape dweight_shape(int64_t rows, int64_t k, int64_t n, GemmOperands half) {
  GemmShape s;
  s.trans_b = true;
  s.m = k, s.n = n, s.k = rows;
  s.lda = k, s.ldb = n, s.ldc = k;
  s.accumulate = true;
  s.operands = half;
  return s;
}

// out = inp . weight^T + bias from the GEMM's operands o.
void forward_gemm(float* out, const Operands& o, const float* bias, int64_t rows, int64_t k,
                  int64_t n, GemmOperands half, Runtime& rt) {
  GemmShape s = forward_shape(rows, k, n, half);
  s.bias = bias && aligned16(bias);
  rt.impl().blas.gemm(stream_of(rt), s, o.weight, o.inp, out, s.bias ? bias : nullptr);
  if (bias && !s.bias) {
    simt::launch<add_bias_kernel>(
        {grid_for(rows * n, kThreads, "matmul_forward"), kThreads, 0, stream_of(rt)}, out, bias,
        rows, n);
    SBERT_LAUNCH_CHECK("matmul_forward");
  }
}

void forward_impl(float* out, const float* inp, const float* weight, const float* bias,
                  int64_t rows, int64_t k, int64_t n, GemmOperands half, Runtime& rt,
                  Bf16Input in16 = {}) {
  if (rows == 0 || n == 0) return;
  SBERT_CHECK(k > 0, "[matmul_forward] k must be positive, got ", k);
  forward_gemm(out, operands(inp, weight, nullptr, rows, k, n, half, rt, in16), bias, rows, k, n,
               half, rt);
}

// dweight += inp^T dout and dbias += column sums of dout (either may be null); o.inp and
// o.dout the GEMM's operands. bf16: dbias from the GEMM's BGRADB epilogue when cuBLASLt has it
// (16-mixed keeps fp32 column sums of dout).
void weight_grads(float* dweight, float* dbias, const Operands& o, const float* dout, int64_t rows,
                  int64_t k, int64_t n, GemmOperands half, Runtime& rt, const char* op) {
  bool dbias_done = false;
  if (dweight && k > 0 && n > 0) {
    GemmShape s = dweight_shape(rows, k, n, half);
    GemmEpilogueIo io;
    if (half == GemmOperands::BF16 && dbias) {
      GemmShape fused = s;
      fused.epilogue = GemmEpilogue::BGradB;
      GemmEpilogueIo fused_io;
      fused_io.bias_grad = bias_grad_scratch(n, rt);
      if (rt.impl().blas.has_algorithm(fused, o.inp, o.dout, dweight, fused_io)) {
        s = fused;
        io = fused_io;
      }
    }
    rt.impl().blas.gemm(stream_of(rt), s, o.inp, o.dout, dweight, io);
    if (io.bias_grad) {
      accumulate(dbias, io.bias_grad, n, rt, op);
      dbias_done = true;
    }
  }
  if (dbias && !dbias_done) column_sums(dbias, dout, rows, n, rt, op);
}

void backward_impl(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, int64_t rows, int64_t k, int64_t n, GemmOperands half,
                   Runtime& rt, const uint16_t* inp16 = nullptr) {
  if (rows == 0) return;
  const bool gemms = k > 0 && n > 0 && (dinp || dweight);
  const Operands o = gemms ? operands(dweight ? inp : nullptr, dinp ? weight : nullptr, dout, rows,
                                      k, n, half, rt, {.given = dweight ? inp16 : nullptr})
                           : Operands{inp, weight, dout};
  if (dinp && k > 0) {
    if (n == 0) {
      SBERT_CUDA_CHECK(
          cudaMemsetAsync(dinp, 0, static_cast<size_t>(rows * k) * sizeof(float), stream_of(rt)));
    } else {
      rt.impl().blas.gemm(stream_of(rt), dinp_shape(rows, k, n, half), o.weight, o.dout, dinp,
                          nullptr);
    }
  }
  weight_grads(dweight, dbias, o, dout, rows, k, n, half, rt, "matmul_backward");
}

}  // namespace

void reserve_matmul_mixed(int64_t rows, int64_t k, int64_t n, Runtime& rt) {
  const auto halves = [](int64_t count) { return static_cast<size_t>(count) * sizeof(uint16_t); };
  rt.impl().workspace_for(0, halves(rows * k));  // inp (forward and dweight)
  rt.impl().workspace_for(1, halves(n * k));     // a weight outside the bf16 copy (fp16: all)
  rt.impl().workspace_for(2, halves(rows * n));  // dout
  bias_grad_scratch(std::max(k, n), rt);         // BGRADB / DGELU_BGRAD's bias gradients
}

static void matmul_forward_impl(float* out, const float* inp, const float* weight,
                                const float* bias, int64_t rows, int64_t k, int64_t n,
                                Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, GemmOperands::F32, rt);
}

static void matmul_forward_bf16_impl(float* out, const float* inp, const float* weight,
                                     const float* bias, int64_t rows, int64_t k, int64_t n,
                                     const uint16_t* inp16, uint16_t* keep16, Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, GemmOperands::BF16, rt,
               {.given = inp16, .keep = keep16});
}

static void matmul_forward_fp16_impl(float* out, const float* inp, const float* weight,
                                     const float* bias, int64_t rows, int64_t k, int64_t n,
                                     Runtime& rt) {
  forward_impl(out, inp, weight, bias, rows, k, n, GemmOperands::FP16, rt);
}

static void matmul_backward_impl(float* dinp, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, int64_t rows, int64_t k,
                                 int64_t n, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, GemmOperands::F32, rt);
}

static void matmul_backward_bf16_impl(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int64_t rows,
                                      int64_t k, int64_t n, const uint16_t* inp16, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, GemmOperands::BF16, rt, inp16);
}

static void matmul_backward_fp16_impl(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int64_t rows,
                                      int64_t k, int64_t n, Runtime& rt) {
  backward_impl(dinp, dweight, dbias, dout, inp, weight, rows, k, n, GemmOperands::FP16, rt);
}

// GELU_AUX_BIAS (GELU_BIAS without pre) where cuBLASLt allows it: a 16-byte aligned bias and
// pre, pre's leading dimension n a multiple of 8, and an algorithm for it. Otherwise the GEMM,
// then the tanh GELU.
static void matmul_gelu_forward_bf16_impl(float* out, float* pre, const float* inp,
                                          const float* weight, const float* bias, int64_t rows,
                                          int64_t k, int64_t n, const uint16_t* inp16,
                                          uint16_t* keep16, Runtime& rt) {
  if (rows == 0 || n == 0) return;
  SBERT_CHECK(k > 0, "[matmul_gelu_forward] k must be positive, got ", k);
  const Operands o = operands(inp, weight, nullptr, rows, k, n, GemmOperands::BF16, rt,
                              {.given = inp16, .keep = keep16});
  GemmShape s = forward_shape(rows, k, n, GemmOperands::BF16);
  s.epilogue = pre ? GemmEpilogue::GeluAuxBias : GemmEpilogue::GeluBias;
  s.aux_ld = pre ? n : 0;
  GemmEpilogueIo io;
  io.bias = bias;
  io.aux = pre;
  Blas& blas = rt.impl().blas;
  if (bias && aligned16(bias) && (!pre || (aligned16(pre) && n % 8 == 0)) &&
      blas.has_algorithm(s, o.weight, o.inp, out, io)) {
    blas.gemm(stream_of(rt), s, o.weight, o.inp, out, io);
    return;
  }
  float* sum = pre ? pre : out;
  forward_gemm(sum, o, bias, rows, k, n, GemmOperands::BF16, rt);
  gelu_tanh_forward(out, sum, rows * n, rt);
}

// The dinp GEMM with DGELU_BGRAD (DGELU without dpre_sum) where cuBLASLt allows it: pre 16-byte
// aligned with leading dimension k a multiple of 8, and an algorithm for it. Otherwise the GEMM,
// the tanh GELU's backward, and dpre's column sums.
static void gelu_matmul_backward_bf16_impl(float* dpre, float* dpre_sum, float* dweight,
                                           float* dbias, const float* dout, const float* act,
                                           const float* pre, const float* weight, int64_t rows,
                                           int64_t k, int64_t n, const uint16_t* act16,
                                           Runtime& rt) {
  constexpr const char* op = "gelu_matmul_backward";
  if (rows == 0) return;
  SBERT_CHECK(dpre && pre, "[", op, "] dpre and pre are required");
  if (k == 0 || n == 0) {  // no product: dpre = 0 (its sums add nothing), dbias from dout
    if (k > 0) {
      SBERT_CUDA_CHECK(
          cudaMemsetAsync(dpre, 0, static_cast<size_t>(rows * k) * sizeof(float), stream_of(rt)));
    }
    weight_grads(nullptr, dbias, Operands{}, dout, rows, k, n, GemmOperands::BF16, rt, op);
    return;
  }
  const Operands o = operands(dweight ? act : nullptr, weight, dout, rows, k, n, GemmOperands::BF16,
                              rt, {.given = dweight ? act16 : nullptr});
  Blas& blas = rt.impl().blas;
  GemmShape s = dinp_shape(rows, k, n, GemmOperands::BF16);
  s.epilogue = dpre_sum ? GemmEpilogue::DGeluBGrad : GemmEpilogue::DGelu;
  s.aux_ld = k;
  GemmEpilogueIo io;
  io.aux = const_cast<float*>(pre);  // an input of the DGELU epilogues
  if (dpre_sum) io.bias_grad = bias_grad_scratch(k, rt);
  if (aligned16(pre) && k % 8 == 0 && blas.has_algorithm(s, o.weight, o.dout, dpre, io)) {
    blas.gemm(stream_of(rt), s, o.weight, o.dout, dpre, io);
    if (dpre_sum) accumulate(dpre_sum, io.bias_grad, k, rt, op);
  } else {
    blas.gemm(stream_of(rt), dinp_shape(rows, k, n, GemmOperands::BF16), o.weight, o.dout, dpre,
              nullptr);
    gelu_tanh_backward(dpre, pre, dpre, rows * k, rt);
    if (dpre_sum) column_sums(dpre_sum, dpre, rows, k, rt, op);
  }
  weight_grads(dweight, dbias, o, dout, rows, k, n, GemmOperands::BF16, rt, op);
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void matmul_forward(const MatmulForwardArgs<float>& a, Runtime& rt) {
  matmul_forward_impl(a.out, a.inp, a.weight, a.bias, a.rows, a.k, a.n, rt);
}
void matmul_forward_bf16(const MatmulForwardArgs<float>& a, Runtime& rt) {
  matmul_forward_bf16_impl(a.out, a.inp, a.weight, a.bias, a.rows, a.k, a.n, a.inp16, a.keep16,
                           rt);
}
void matmul_forward_fp16(const MatmulForwardArgs<float>& a, Runtime& rt) {
  matmul_forward_fp16_impl(a.out, a.inp, a.weight, a.bias, a.rows, a.k, a.n, rt);
}
void matmul_backward(const MatmulBackwardArgs<float>& a, Runtime& rt) {
  matmul_backward_impl(a.dinp, a.dweight, a.dbias, a.dout, a.inp, a.weight, a.rows, a.k, a.n, rt);
}
void matmul_backward_bf16(const MatmulBackwardArgs<float>& a, Runtime& rt) {
  matmul_backward_bf16_impl(a.dinp, a.dweight, a.dbias, a.dout, a.inp, a.weight, a.rows, a.k, a.n,
                            a.inp16, rt);
}
void matmul_backward_fp16(const MatmulBackwardArgs<float>& a, Runtime& rt) {
  matmul_backward_fp16_impl(a.dinp, a.dweight, a.dbias, a.dout, a.inp, a.weight, a.rows, a.k, a.n,
                            rt);
}
void matmul_gelu_forward_bf16(const MatmulGeluForwardArgs<float>& a, Runtime& rt) {
  matmul_gelu_forward_bf16_impl(a.out, a.pre, a.inp, a.weight, a.bias, a.rows, a.k, a.n, a.inp16,
                                a.keep16, rt);
}
void gelu_matmul_backward_bf16(const GeluMatmulBackwardArgs<float>& a, Runtime& rt) {
  gelu_matmul_backward_bf16_impl(a.dpre, a.dpre_sum, a.dweight, a.dbias, a.dout, a.act, a.pre,
                                 a.weight, a.rows, a.k, a.n, a.act16, rt);
}

}  // namespace sbert::cuda
