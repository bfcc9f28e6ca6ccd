// Each op forwards to the backend of ctx.device: cpu::name, or cuda::name on ctx.cuda's
// stream with the same (device) pointers. A CUDA Context without a Runtime throws a clear
// error instead of handing host pointers to a kernel. The fp64 overloads are CPU-only by design.
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
}  // namespace

// cuda::op(args..., runtime) or cpu::op(args...).
#define SBERT_DISPATCH(op, ...)             \
  do {                                      \
    if (ctx.device == Device::CUDA) {       \
      cuda::op(__VA_ARGS__, gpu(ctx, #op)); \
    } else {                                \
      cpu::op(__VA_ARGS__);                 \
    }                                       \
  } while (0)

void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight,
                    const float* bias, int64_t rows, int64_t k, int64_t n) {
  if (bf16_gemm(ctx)) {
    cuda::matmul_forward_bf16(out, inp, weight, bias, rows, k, n, gpu(ctx, "matmul_forward"));
    return;
  }
  if (fp16_gemm(ctx)) {
    cuda::matmul_forward_fp16(out, inp, weight, bias, rows, k, n, gpu(ctx, "matmul_forward"));
    return;
  }
  SBERT_DISPATCH(matmul_forward, out, inp, weight, bias, rows, k, n);
}

// fp32 on CUDA: the GEMM, then the erf GELU in a second pass (in place without pre); bf16-mixed:
// one GEMM with cuBLASLt's (tanh) GELU epilogue.
void matmul_gelu_forward(const Context& ctx, float* out, float* pre, const float* inp,
                         const float* weight, const float* bias, int64_t rows, int64_t k,
                         int64_t n) {
  if (bf16_gemm(ctx)) {
    cuda::matmul_gelu_forward_bf16(out, pre, inp, weight, bias, rows, k, n,
                                   gpu(ctx, "matmul_gelu_forward"));
    return;
  }
  if (ctx.device == Device::CUDA) {
    float* sum = pre ? pre : out;
    matmul_forward(ctx, sum, inp, weight, bias, rows, k, n);
    cuda::gelu_forward(out, sum, rows * n, gpu(ctx, "matmul_gelu_forward"));
  } else {
    cpu::matmul_gelu_forward(out, pre, inp, weight, bias, rows, k, n);
  }
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int64_t rows,
                     int64_t k, int64_t n) {
  if (bf16_gemm(ctx)) {
    cuda::matmul_backward_bf16(dinp, dweight, dbias, dout, inp, weight, rows, k, n,
                               gpu(ctx, "matmul_backward"));
    return;
  }
  if (fp16_gemm(ctx)) {
    cuda::matmul_backward_fp16(dinp, dweight, dbias, dout, inp, weight, rows, k, n,
                               gpu(ctx, "matmul_backward"));
    return;
  }
  SBERT_DISPATCH(matmul_backward, dinp, dweight, dbias, dout, inp, weight, rows, k, n);
}

namespace {
// gelu_matmul_backward from the unfused ops (every backend, float and double).
template <class T>
void gelu_matmul_backward_ops(const Context& ctx, T* dpre, T* dpre_sum, T* dweight, T* dbias,
                              const T* dout, const T* act, const T* pre, const T* weight,
                              int64_t rows, int64_t k, int64_t n) {
  matmul_backward(ctx, dpre, dweight, dbias, dout, act, weight, rows, k, n);
  gelu_backward(ctx, dpre, pre, dpre, rows * k);
  if (dpre_sum) {
    matmul_backward(ctx, static_cast<T*>(nullptr), nullptr, dpre_sum, dpre, nullptr, nullptr, rows,
                    0, k);
  }
}
}  // namespace

void gelu_matmul_backward(const Context& ctx, float* dpre, float* dpre_sum, float* dweight,
                          float* dbias, const float* dout, const float* act, const float* pre,
                          const float* weight, int64_t rows, int64_t k, int64_t n) {
  if (bf16_gemm(ctx)) {
    cuda::gelu_matmul_backward_bf16(dpre, dpre_sum, dweight, dbias, dout, act, pre, weight, rows, k,
                                    n, gpu(ctx, "gelu_matmul_backward"));
    return;
  }
  gelu_matmul_backward_ops(ctx, dpre, dpre_sum, dweight, dbias, dout, act, pre, weight, rows, k, n);
}

void gelu_matmul_backward(const Context& ctx, double* dpre, double* dpre_sum, double* dweight,
                          double* dbias, const double* dout, const double* act, const double* pre,
                          const double* weight, int64_t rows, int64_t k, int64_t n) {
  require_cpu_fp64(ctx, "gelu_matmul_backward");
  gelu_matmul_backward_ops(ctx, dpre, dpre_sum, dweight, dbias, dout, act, pre, weight, rows, k, n);
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

void layernorm_forward(const Context& ctx, float* out, float* sum, float* mean, float* rstd,
                       const float* a, const float* b, const float* weight, const float* bias,
                       int64_t rows, int64_t C, float eps) {
  SBERT_DISPATCH(layernorm_forward, out, sum, mean, rstd, a, b, weight, bias, rows, C, eps);
}

void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias,
                        const float* dout, const float* dout2, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows,
                        int64_t C) {
  SBERT_DISPATCH(layernorm_backward, dinp, dweight, dbias, dout, dout2, inp, weight, mean, rstd,
                 rows, C);
}

void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t n) {
  SBERT_DISPATCH(gelu_forward, out, inp, n);
}

void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout,
                   int64_t n) {
  SBERT_DISPATCH(gelu_backward, dinp, inp, dout, n);
}

void dropout_forward(const Context& ctx, float* out, const float* inp, int64_t n,
                     const DropoutSpec& spec) {
  SBERT_DISPATCH(dropout_forward, out, inp, n, spec);
}

void dropout_backward(const Context& ctx, float* dinp, const float* dout, const float* dout2,
                      int64_t n, const DropoutSpec& spec) {
  SBERT_DISPATCH(dropout_backward, dinp, dout, dout2, n, spec);
}

void attention_forward(const Context& ctx, float* out, float* lse, const float* qkv,
                       const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                       const DropoutSpec& dropout, const BatchDims& dims) {
  if (cudnn_attention(ctx, "attention_forward")) {
    cuda::attention_forward_cudnn(out, lse, qkv, cu_seqlens, nseq, dims.tokens, dims.max_seqlen,
                                  heads, head_dim, dropout, gpu(ctx, "attention_forward"));
    return;
  }
  if (bf16_attention(ctx, head_dim)) {
    cuda::attention_forward_mixed(out, lse, qkv, cu_seqlens, nseq, dims.tokens, dims.max_seqlen,
                                  heads, head_dim, dropout, gpu(ctx, "attention_forward"));
    return;
  }
  SBERT_DISPATCH(attention_forward, out, lse, qkv, cu_seqlens, nseq, heads, head_dim, dropout);
}

void attention_backward(const Context& ctx, float* dqkv, const float* dout, const float* qkv,
                        const float* out, const float* lse, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t heads, int64_t head_dim, const DropoutSpec& dropout,
                        const BatchDims& dims) {
  if (cudnn_attention(ctx, "attention_backward")) {
    cuda::attention_backward_cudnn(dqkv, dout, qkv, out, lse, cu_seqlens, nseq, dims.tokens,
                                   dims.max_seqlen, heads, head_dim, dropout,
                                   gpu(ctx, "attention_backward"));
    return;
  }
  if (bf16_attention(ctx, head_dim)) {
    cuda::attention_backward_mixed(dqkv, dout, qkv, out, lse, cu_seqlens, nseq, dims.tokens,
                                   dims.max_seqlen, heads, head_dim, dropout,
                                   gpu(ctx, "attention_backward"));
    return;
  }
  SBERT_DISPATCH(attention_backward, dqkv, dout, qkv, out, lse, cu_seqlens, nseq, heads, head_dim,
                 dropout);
}

void embedding_forward(const Context& ctx, float* out, const int32_t* ids, const int32_t* pos_ids,
                       const int64_t* cu_seqlens, int64_t nseq, const float* word, const float* pos,
                       const float* type, int64_t C) {
  SBERT_DISPATCH(embedding_forward, out, ids, pos_ids, cu_seqlens, nseq, word, pos, type, C);
}

void embedding_backward(const Context& ctx, float* dword, float* dpos, float* dtype,
                        const float* dout, const int32_t* ids, const int32_t* pos_ids,
                        const int64_t* cu_seqlens, int64_t nseq, int64_t C, int32_t pad_id,
                        int32_t pos_pad) {
  SBERT_DISPATCH(embedding_backward, dword, dpos, dtype, dout, ids, pos_ids, cu_seqlens, nseq, C,
                 pad_id, pos_pad);
}

void mean_pool_forward(const Context& ctx, float* out, const float* inp, const int64_t* cu_seqlens,
                       int64_t nseq, int64_t C) {
  SBERT_DISPATCH(mean_pool_forward, out, inp, cu_seqlens, nseq, C);
}

void mean_pool_backward(const Context& ctx, float* dinp, const float* dout,
                        const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  SBERT_DISPATCH(mean_pool_backward, dinp, dout, cu_seqlens, nseq, C);
}

void cls_pool_forward(const Context& ctx, float* out, const float* inp, const int64_t* cu_seqlens,
                      int64_t nseq, int64_t C) {
  SBERT_DISPATCH(cls_pool_forward, out, inp, cu_seqlens, nseq, C);
}

void cls_pool_backward(const Context& ctx, float* dinp, const float* dout,
                       const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  SBERT_DISPATCH(cls_pool_backward, dinp, dout, cu_seqlens, nseq, C);
}

void l2norm_forward(const Context& ctx, float* out, float* norm, const float* inp, int64_t rows,
                    int64_t C) {
  SBERT_DISPATCH(l2norm_forward, out, norm, inp, rows, C);
}

void l2norm_backward(const Context& ctx, float* dinp, const float* dout, const float* out,
                     const float* norm, int64_t rows, int64_t C) {
  SBERT_DISPATCH(l2norm_backward, dinp, dout, out, norm, rows, C);
}

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
#define SBERT_CPU_ONLY(op, params, args) \
  void op params {                       \
    require_cpu_fp64(ctx, #op);          \
    cpu::op args;                        \
  }
SBERT_CPU_ONLY(matmul_forward,
               (const Context& ctx, double* out, const double* inp, const double* weight,
                const double* bias, int64_t rows, int64_t k, int64_t n),
               (out, inp, weight, bias, rows, k, n))
SBERT_CPU_ONLY(matmul_gelu_forward,
               (const Context& ctx, double* out, double* pre, const double* inp,
                const double* weight, const double* bias, int64_t rows, int64_t k, int64_t n),
               (out, pre, inp, weight, bias, rows, k, n))
SBERT_CPU_ONLY(matmul_backward,
               (const Context& ctx, double* dinp, double* dweight, double* dbias,
                const double* dout, const double* inp, const double* weight, int64_t rows,
                int64_t k, int64_t n),
               (dinp, dweight, dbias, dout, inp, weight, rows, k, n))
SBERT_CPU_ONLY(layernorm_forward,
               (const Context& ctx, double* out, double* sum, double* mean, double* rstd,
                const double* a, const double* b, const double* weight, const double* bias,
                int64_t rows, int64_t C, float eps),
               (out, sum, mean, rstd, a, b, weight, bias, rows, C, eps))
SBERT_CPU_ONLY(layernorm_backward,
               (const Context& ctx, double* dinp, double* dweight, double* dbias,
                const double* dout, const double* dout2, const double* inp, const double* weight,
                const double* mean, const double* rstd, int64_t rows, int64_t C),
               (dinp, dweight, dbias, dout, dout2, inp, weight, mean, rstd, rows, C))
SBERT_CPU_ONLY(gelu_forward, (const Context& ctx, double* out, const double* inp, int64_t n),
               (out, inp, n))
SBERT_CPU_ONLY(gelu_backward,
               (const Context& ctx, double* dinp, const double* inp, const double* dout, int64_t n),
               (dinp, inp, dout, n))
SBERT_CPU_ONLY(dropout_forward,
               (const Context& ctx, double* out, const double* inp, int64_t n,
                const DropoutSpec& spec),
               (out, inp, n, spec))
SBERT_CPU_ONLY(dropout_backward,
               (const Context& ctx, double* dinp, const double* dout, const double* dout2,
                int64_t n, const DropoutSpec& spec),
               (dinp, dout, dout2, n, spec))
SBERT_CPU_ONLY(attention_forward,
               (const Context& ctx, double* out, double* lse, const double* qkv,
                const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                const DropoutSpec& dropout, const BatchDims&),
               (out, lse, qkv, cu_seqlens, nseq, heads, head_dim, dropout))
SBERT_CPU_ONLY(attention_backward,
               (const Context& ctx, double* dqkv, const double* dout, const double* qkv,
                const double* out, const double* lse, const int64_t* cu_seqlens, int64_t nseq,
                int64_t heads, int64_t head_dim, const DropoutSpec& dropout, const BatchDims&),
               (dqkv, dout, qkv, out, lse, cu_seqlens, nseq, heads, head_dim, dropout))
SBERT_CPU_ONLY(embedding_forward,
               (const Context& ctx, double* out, const int32_t* ids, const int32_t* pos_ids,
                const int64_t* cu_seqlens, int64_t nseq, const double* word, const double* pos,
                const double* type, int64_t C),
               (out, ids, pos_ids, cu_seqlens, nseq, word, pos, type, C))
SBERT_CPU_ONLY(embedding_backward,
               (const Context& ctx, double* dword, double* dpos, double* dtype, const double* dout,
                const int32_t* ids, const int32_t* pos_ids, const int64_t* cu_seqlens, int64_t nseq,
                int64_t C, int32_t pad_id, int32_t pos_pad),
               (dword, dpos, dtype, dout, ids, pos_ids, cu_seqlens, nseq, C, pad_id, pos_pad))
SBERT_CPU_ONLY(mean_pool_forward,
               (const Context& ctx, double* out, const double* inp, const int64_t* cu_seqlens,
                int64_t nseq, int64_t C),
               (out, inp, cu_seqlens, nseq, C))
SBERT_CPU_ONLY(mean_pool_backward,
               (const Context& ctx, double* dinp, const double* dout, const int64_t* cu_seqlens,
                int64_t nseq, int64_t C),
               (dinp, dout, cu_seqlens, nseq, C))
SBERT_CPU_ONLY(cls_pool_forward,
               (const Context& ctx, double* out, const double* inp, const int64_t* cu_seqlens,
                int64_t nseq, int64_t C),
               (out, inp, cu_seqlens, nseq, C))
SBERT_CPU_ONLY(cls_pool_backward,
               (const Context& ctx, double* dinp, const double* dout, const int64_t* cu_seqlens,
                int64_t nseq, int64_t C),
               (dinp, dout, cu_seqlens, nseq, C))
SBERT_CPU_ONLY(l2norm_forward,
               (const Context& ctx, double* out, double* norm, const double* inp, int64_t rows,
                int64_t C),
               (out, norm, inp, rows, C))
SBERT_CPU_ONLY(l2norm_backward,
               (const Context& ctx, double* dinp, const double* dout, const double* out,
                const double* norm, int64_t rows, int64_t C),
               (dinp, dout, out, norm, rows, C))
#undef SBERT_CPU_ONLY
#undef SBERT_DISPATCH

void qlinear_forward(const Context& ctx, float* out, const float* x, const cpu::QWeight& w,
                     const float* bias, int64_t rows, cpu::QScratch& scratch, cpu::QIsa isa) {
  SBERT_CHECK(ctx.device == Device::CPU,
              "[qlinear_forward] int8 inference runs on the CPU only "
              "(--quantize int8 with --device cpu)");
  cpu::qlinear_forward(out, x, w, bias, rows, scratch, isa);
}

}  // namespace sbert::ops
