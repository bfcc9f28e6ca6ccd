// Generated once from ops.h, then kept by hand: each op forwards to the backend of ctx.device.
// The CUDA backend's kernels arrive with the CUDA issue; until an op has one, asking for it on
// a GPU throws a clear error instead of silently running on the CPU.
#include "ops/ops.h"

#include "core/check.h"
#include "cpu/kernels.h"

namespace sbert::ops {

namespace {
void require_cpu(const Context& ctx, const char* op) {
  SBERT_CHECK(ctx.device == Device::CPU, "[", op,
              "] has no CUDA implementation yet (run with --device cpu)");
}
}  // namespace


void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int64_t rows, int64_t k, int64_t n) {
  require_cpu(ctx, "matmul_forward");
  cpu::matmul_forward(out, inp, weight, bias, rows, k, n);
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight, int64_t rows, int64_t k, int64_t n) {
  require_cpu(ctx, "matmul_backward");
  cpu::matmul_backward(dinp, dweight, dbias, dout, inp, weight, rows, k, n);
}

void layernorm_forward(const Context& ctx, float* out, float* sum, float* mean, float* rstd, const float* a, const float* b, const float* weight, const float* bias, int64_t rows, int64_t C, float eps) {
  require_cpu(ctx, "layernorm_forward");
  cpu::layernorm_forward(out, sum, mean, rstd, a, b, weight, bias, rows, C, eps);
}

void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight, const float* mean, const float* rstd, int64_t rows, int64_t C) {
  require_cpu(ctx, "layernorm_backward");
  cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, C);
}

void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t n) {
  require_cpu(ctx, "gelu_forward");
  cpu::gelu_forward(out, inp, n);
}

void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t n) {
  require_cpu(ctx, "gelu_backward");
  cpu::gelu_backward(dinp, inp, dout, n);
}

void attention_forward(const Context& ctx, float* out, float* lse, const float* qkv, const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim) {
  require_cpu(ctx, "attention_forward");
  cpu::attention_forward(out, lse, qkv, cu_seqlens, nseq, heads, head_dim);
}

void attention_backward(const Context& ctx, float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim) {
  require_cpu(ctx, "attention_backward");
  cpu::attention_backward(dqkv, dout, qkv, out, lse, cu_seqlens, nseq, heads, head_dim);
}

void embedding_forward(const Context& ctx, float* out, const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq, const float* word, const float* pos, const float* type, int64_t C) {
  require_cpu(ctx, "embedding_forward");
  cpu::embedding_forward(out, ids, cu_seqlens, nseq, word, pos, type, C);
}

void embedding_backward(const Context& ctx, float* dword, float* dpos, float* dtype, const float* dout, const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  require_cpu(ctx, "embedding_backward");
  cpu::embedding_backward(dword, dpos, dtype, dout, ids, cu_seqlens, nseq, C);
}

void mean_pool_forward(const Context& ctx, float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  require_cpu(ctx, "mean_pool_forward");
  cpu::mean_pool_forward(out, inp, cu_seqlens, nseq, C);
}

void mean_pool_backward(const Context& ctx, float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  require_cpu(ctx, "mean_pool_backward");
  cpu::mean_pool_backward(dinp, dout, cu_seqlens, nseq, C);
}

void cls_pool_forward(const Context& ctx, float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  require_cpu(ctx, "cls_pool_forward");
  cpu::cls_pool_forward(out, inp, cu_seqlens, nseq, C);
}

void cls_pool_backward(const Context& ctx, float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  require_cpu(ctx, "cls_pool_backward");
  cpu::cls_pool_backward(dinp, dout, cu_seqlens, nseq, C);
}

void l2norm_forward(const Context& ctx, float* out, float* norm, const float* inp, int64_t rows, int64_t C) {
  require_cpu(ctx, "l2norm_forward");
  cpu::l2norm_forward(out, norm, inp, rows, C);
}

void l2norm_backward(const Context& ctx, float* dinp, const float* dout, const float* out, const float* norm, int64_t rows, int64_t C) {
  require_cpu(ctx, "l2norm_backward");
  cpu::l2norm_backward(dinp, dout, out, norm, rows, C);
}

}  // namespace sbert::ops
