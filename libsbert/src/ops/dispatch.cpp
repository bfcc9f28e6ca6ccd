// Each op forwards its argument struct to the backend of ctx.device: cpu::name, or cuda::name
// on ctx.cuda's stream (the struct's pointers are then device pointers). A CUDA Context without
// a Runtime throws a clear error instead of handing host pointers to a kernel. The fp64
// overloads are CPU-only by design.
#include "ops/ops.h"

#include "core/check.h"
#include "cpu/kernels.h"
#include "cpu/train_kernels.h"
#include "cuda/kernels.h"
#include "cuda/mixed.h"
#include "cuda/train_kernels.h"

namespace sbert::ops {

namespace {
cuda::Runtime& gpu(const Context& ctx, const char* op) { return cuda_runtime(ctx, op); }
void require_cpu_fp64(const Context& ctx, const char* op) {
  SBERT_CHECK(ctx.device == Device::CPU, "[", op, "] fp64 runs on the CPU only");
}
// On CUDA with ctx.bf16, the GEMMs and attention take the mixed-precision kernels (cuda/mixed.h);
// attention only for the head dims the tensor-core kernels have (others keep the fp32 kernel,
// as autocast does for ops without a bf16 kernel). With ctx.fp16 the GEMMs take fp16 operands and
// attention keeps the fp32 kernel.
bool bf16_gemm(const Context& ctx) { return ctx.device == Device::CUDA && ctx.bf16; }
bool fp16_gemm(const Context& ctx) { return ctx.device == Device::CUDA && ctx.fp16 && !ctx.bf16; }
bool bf16_attention(const Context& ctx, int64_t head_dim) {
  return bf16_gemm(ctx) && (head_dim == 32 || head_dim == 64 || head_dim == 128);
}
// model.attention_backend cudnn: cuDNN's fused SDPA, bf16 on CUDA only (cuda/attention_cudnn.cu).
bool cudnn_attention(const Context& ctx, const char* op) {
  if (!ctx.cudnn_attention) return false;
  SBERT_CHECK(bf16_gemm(ctx), "[", op,
              "] model.attention_backend cudnn needs trainer.precision bf16-mixed on a CUDA GPU "
              "(cuDNN's fused attention has no fp32 path)");
  return true;
}
// A path without bf16 operands must be given the fp32 tensors (args.h's bf16 fields are for
// the bf16 kernels only; the encoder asks bf16_activations / bf16_attention_io first).
void refuse_bf16_fields(bool given, const char* op) {
  SBERT_CHECK(!given, "[", op,
              "] bf16 activation operands were passed to a path without bf16 kernels (bf16-mixed "
              "on CUDA only)");
}
}  // namespace

bool bf16_activations(const Context& ctx) { return bf16_gemm(ctx); }
bool bf16_attention_io(const Context& ctx, int64_t head_dim) {
  return bf16_attention(ctx, head_dim) || (ctx.cudnn_attention && bf16_gemm(ctx));
}

// cuda::op(args..., runtime) or cpu::op(args...).
#define SBERT_DISPATCH(op, ...)             \
  do {                                      \
    if (ctx.device == Device::CUDA) {       \
      cuda::op(__VA_ARGS__, gpu(ctx, #op)); \
    } else {                                \
      cpu::op(__VA_ARGS__);                 \
    }                                       \
  } while (0)

void matmul_forward(const Context& ctx, const MatmulForwardArgs<float>& a) {
  if (bf16_gemm(ctx)) return cuda::matmul_forward_bf16(a, gpu(ctx, "matmul_forward"));
  refuse_bf16_fields(a.inp16 || a.keep16, "matmul_forward");
  if (fp16_gemm(ctx)) return cuda::matmul_forward_fp16(a, gpu(ctx, "matmul_forward"));
  SBERT_DISPATCH(matmul_forward, a);
}

// fp32 on CUDA: the GEMM, then the erf GELU in a second pass (in place without pre); bf16-mixed:
// one GEMM with cuBLASLt's (tanh) GELU epilogue.
void matmul_gelu_forward(const Context& ctx, const MatmulGeluForwardArgs<float>& a) {
  if (bf16_gemm(ctx)) return cuda::matmul_gelu_forward_bf16(a, gpu(ctx, "matmul_gelu_forward"));
  refuse_bf16_fields(a.inp16 || a.keep16, "matmul_gelu_forward");
  if (ctx.device == Device::CUDA) {
    float* sum = a.pre ? a.pre : a.out;
    matmul_forward(ctx, {.out = sum,
                         .inp = a.inp,
                         .weight = a.weight,
                         .bias = a.bias,
                         .rows = a.rows,
                         .k = a.k,
                         .n = a.n});
    cuda::gelu_forward({.out = a.out, .inp = sum, .n = a.rows * a.n},
                       gpu(ctx, "matmul_gelu_forward"));
  } else {
    cpu::matmul_gelu_forward(a);
  }
}

void matmul_backward(const Context& ctx, const MatmulBackwardArgs<float>& a) {
  if (bf16_gemm(ctx)) return cuda::matmul_backward_bf16(a, gpu(ctx, "matmul_backward"));
  refuse_bf16_fields(a.inp16 != nullptr, "matmul_backward");
  if (fp16_gemm(ctx)) return cuda::matmul_backward_fp16(a, gpu(ctx, "matmul_backward"));
  SBERT_DISPATCH(matmul_backward, a);
}

namespace {
// gelu_matmul_backward from the unfused ops (every backend, float and double).
template <class T>
void gelu_matmul_backward_ops(const Context& ctx, const GeluMatmulBackwardArgs<T>& a) {
  matmul_backward(ctx, MatmulBackwardArgs<T>{.dinp = a.dpre,
                                             .dweight = a.dweight,
                                             .dbias = a.dbias,
                                             .dout = a.dout,
                                             .inp = a.act,
                                             .weight = a.weight,
                                             .rows = a.rows,
                                             .k = a.k,
                                             .n = a.n});
  gelu_backward(
      ctx, GeluBackwardArgs<T>{.dinp = a.dpre, .inp = a.pre, .dout = a.dpre, .n = a.rows * a.k});
  if (a.dpre_sum) {
    matmul_backward(ctx,
                    MatmulBackwardArgs<T>{
                        .dbias = a.dpre_sum, .dout = a.dpre, .rows = a.rows, .k = 0, .n = a.k});
  }
}
}  // namespace

void gelu_matmul_backward(const Context& ctx, const GeluMatmulBackwardArgs<float>& a) {
  if (bf16_gemm(ctx)) return cuda::gelu_matmul_backward_bf16(a, gpu(ctx, "gelu_matmul_backward"));
  refuse_bf16_fields(a.act16 != nullptr, "gelu_matmul_backward");
  gelu_matmul_backward_ops(ctx, a);
}

void gelu_matmul_backward(const Context& ctx, const GeluMatmulBackwardArgs<double>& a) {
  require_cpu_fp64(ctx, "gelu_matmul_backward");
  gelu_matmul_backward_ops(ctx, a);
}

void bind_weight_copy(const Context& ctx, const float* weights, int64_t count) {
  if (bf16_gemm(ctx)) cuda::bind_bf16_weights(weights, count, gpu(ctx, "bind_weight_copy"));
}

void refresh_weight_copy(const Context& ctx) {
  if (bf16_gemm(ctx)) cuda::refresh_bf16_weights(gpu(ctx, "refresh_weight_copy"));
}

void reserve_matmul(const Context& ctx, int64_t rows, int64_t k, int64_t n) {
  if (bf16_gemm(ctx) || fp16_gemm(ctx)) {
    cuda::reserve_matmul_mixed(rows, k, n, gpu(ctx, "reserve_matmul"));
  }
}

void reserve_attention(const Context& ctx, int64_t tokens, int64_t heads, int64_t head_dim) {
  if (bf16_attention(ctx, head_dim) || (ctx.cudnn_attention && bf16_gemm(ctx))) {
    cuda::reserve_attention_mixed(tokens, heads, head_dim, gpu(ctx, "reserve_attention"));
  }
}

void attention_forward(const Context& ctx, const AttentionForwardArgs<float>& a) {
  if (cudnn_attention(ctx, "attention_forward")) {
    return cuda::attention_forward_cudnn(a, gpu(ctx, "attention_forward"));
  }
  if (bf16_attention(ctx, a.head_dim)) {
    return cuda::attention_forward_mixed(a, gpu(ctx, "attention_forward"));
  }
  refuse_bf16_fields(a.keep_qkv16 || a.out16, "attention_forward");
  SBERT_DISPATCH(attention_forward, a);
}

void attention_backward(const Context& ctx, const AttentionBackwardArgs<float>& a) {
  if (cudnn_attention(ctx, "attention_backward")) {
    return cuda::attention_backward_cudnn(a, gpu(ctx, "attention_backward"));
  }
  if (bf16_attention(ctx, a.head_dim)) {
    return cuda::attention_backward_mixed(a, gpu(ctx, "attention_backward"));
  }
  refuse_bf16_fields(a.qkv16 || a.out16, "attention_backward");
  SBERT_DISPATCH(attention_backward, a);
}

// The ops with one kernel per backend.
#define SBERT_PLAIN(op, Args) \
  void op(const Context& ctx, const Args<float>& a) { SBERT_DISPATCH(op, a); }
SBERT_PLAIN(layernorm_forward, LayerNormForwardArgs)
SBERT_PLAIN(layernorm_backward, LayerNormBackwardArgs)
SBERT_PLAIN(gelu_forward, GeluForwardArgs)
SBERT_PLAIN(gelu_backward, GeluBackwardArgs)
SBERT_PLAIN(dropout_forward, DropoutForwardArgs)
SBERT_PLAIN(dropout_backward, DropoutBackwardArgs)
SBERT_PLAIN(embedding_forward, EmbeddingForwardArgs)
SBERT_PLAIN(embedding_backward, EmbeddingBackwardArgs)
SBERT_PLAIN(mean_pool_forward, PoolForwardArgs)
SBERT_PLAIN(mean_pool_backward, PoolBackwardArgs)
SBERT_PLAIN(cls_pool_forward, PoolForwardArgs)
SBERT_PLAIN(cls_pool_backward, PoolBackwardArgs)
SBERT_PLAIN(l2norm_forward, L2NormForwardArgs)
SBERT_PLAIN(l2norm_backward, L2NormBackwardArgs)
#undef SBERT_PLAIN

LossStats contrastive_loss(const Context& ctx, const LossConfig& cfg, float* dq, float* dp,
                           float* dn, const float* q, const float* p, const float* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H) {
  if (ctx.device == Device::CUDA) {
    return cuda::contrastive_loss(dq, dp, dn, q, p, n, neg_mask, B, K, H, cfg, gpu(ctx, "loss"));
  }
  return cpu::contrastive_loss(dq, dp, dn, q, p, n, neg_mask, B, K, H, cfg);
}

void gather_rows(const Context& ctx, float* out, const float* inp, const int64_t* index,
                 int64_t rows, int64_t C) {
  SBERT_DISPATCH(gather_rows, out, inp, index, rows, C);
}

void scatter_rows(const Context& ctx, float* out, const float* inp, const int64_t* index,
                  int64_t rows, int64_t C) {
  SBERT_DISPATCH(scatter_rows, out, inp, index, rows, C);
}

// ---- fp64: CPU only, for the finite-difference tests --------------------------------------
#define SBERT_CPU_ONLY(op, Args)                       \
  void op(const Context& ctx, const Args<double>& a) { \
    require_cpu_fp64(ctx, #op);                        \
    cpu::op(a);                                        \
  }
SBERT_CPU_ONLY(matmul_forward, MatmulForwardArgs)
SBERT_CPU_ONLY(matmul_gelu_forward, MatmulGeluForwardArgs)
SBERT_CPU_ONLY(matmul_backward, MatmulBackwardArgs)
SBERT_CPU_ONLY(layernorm_forward, LayerNormForwardArgs)
SBERT_CPU_ONLY(layernorm_backward, LayerNormBackwardArgs)
SBERT_CPU_ONLY(gelu_forward, GeluForwardArgs)
SBERT_CPU_ONLY(gelu_backward, GeluBackwardArgs)
SBERT_CPU_ONLY(dropout_forward, DropoutForwardArgs)
SBERT_CPU_ONLY(dropout_backward, DropoutBackwardArgs)
SBERT_CPU_ONLY(attention_forward, AttentionForwardArgs)
SBERT_CPU_ONLY(attention_backward, AttentionBackwardArgs)
SBERT_CPU_ONLY(embedding_forward, EmbeddingForwardArgs)
SBERT_CPU_ONLY(embedding_backward, EmbeddingBackwardArgs)
SBERT_CPU_ONLY(mean_pool_forward, PoolForwardArgs)
SBERT_CPU_ONLY(mean_pool_backward, PoolBackwardArgs)
SBERT_CPU_ONLY(cls_pool_forward, PoolForwardArgs)
SBERT_CPU_ONLY(cls_pool_backward, PoolBackwardArgs)
SBERT_CPU_ONLY(l2norm_forward, L2NormForwardArgs)
SBERT_CPU_ONLY(l2norm_backward, L2NormBackwardArgs)
#undef SBERT_CPU_ONLY
#undef SBERT_DISPATCH

void qlinear_forward(const Context& ctx, float* out, const float* x, const cpu::QWeight& w,
                     const float* bias, int64_t rows, cpu::QScratch& scratch, cpu::QIsa isa,
                     bool gelu) {
  SBERT_CHECK(ctx.device == Device::CPU,
              "[qlinear_forward] int8 inference runs on the CPU only "
              "(--quantize int8 with --device cpu)");
  cpu::qlinear_forward(out, x, w, bias, rows, scratch, isa, gelu);
}

void bf16x3_linear_forward(const Context& ctx, float* out, const float* x,
                           const cpu::SplitWeight& w, const float* bias, int64_t rows,
                           cpu::SplitScratch& scratch, bool gelu) {
  SBERT_CHECK(ctx.device == Device::CPU,
              "[bf16x3_linear_forward] matmul precision 'high' runs on the CPU only");
  cpu::bf16x3_linear_forward(out, x, w, bias, rows, scratch, gelu);
}

}  // namespace sbert::ops
