// The one dispatch point between backends: every op takes the Context and device pointers,
// and calls cpu::name or cuda::name with the same arguments (see cpu/kernels.h for the
// shapes and THE GRADIENT RULE). nn/ calls only these.
//
// Each op exists for float (every backend) and double (CPU only: the finite-difference
// gradient tests run the whole encoder in fp64; on another device the fp64 ops throw).
#pragma once

#include <cstdint>

#include "core/context.h"
#include "core/rng.h"
#include "cpu/qgemm.h"
#include "train/loss.h"

namespace sbert::ops {

// Host-side facts of a packed batch that the bf16 attention needs to size its casts and grid
// (the fp32 kernels read what they need from cu_seqlens on the device): cu_seqlens[nseq] and
// the longest sequence.
struct BatchDims {
  int64_t tokens = 0;
  int64_t max_seqlen = 0;
};

#define SBERT_OPS_DECLARE(T)                                                                       \
  void matmul_forward(const Context& ctx, T* out, const T* inp, const T* weight, const T* bias,    \
                      int64_t rows, int64_t k, int64_t n);                                         \
  void matmul_gelu_forward(const Context& ctx, T* out, T* pre, const T* inp, const T* weight,      \
                           const T* bias, int64_t rows, int64_t k, int64_t n);                     \
  void matmul_backward(const Context& ctx, T* dinp, T* dweight, T* dbias, const T* dout,           \
                       const T* inp, const T* weight, int64_t rows, int64_t k, int64_t n);         \
  void gelu_matmul_backward(const Context& ctx, T* dpre, T* dpre_sum, T* dweight, T* dbias,        \
                            const T* dout, const T* act, const T* pre, const T* weight,            \
                            int64_t rows, int64_t k, int64_t n);                                   \
  void layernorm_forward(const Context& ctx, T* out, T* sum, T* mean, T* rstd, const T* a,         \
                         const T* b, const T* weight, const T* bias, int64_t rows, int64_t C,      \
                         float eps);                                                               \
  void layernorm_backward(const Context& ctx, T* dinp, T* dweight, T* dbias, const T* dout,        \
                          const T* dout2, const T* inp, const T* weight, const T* mean,            \
                          const T* rstd, int64_t rows, int64_t C);                                 \
  void gelu_forward(const Context& ctx, T* out, const T* inp, int64_t n);                          \
  void gelu_backward(const Context& ctx, T* dinp, const T* inp, const T* dout, int64_t n);         \
  void dropout_forward(const Context& ctx, T* out, const T* inp, int64_t n,                        \
                       const DropoutSpec& spec);                                                   \
  void dropout_backward(const Context& ctx, T* dinp, const T* dout, const T* dout2, int64_t n,     \
                        const DropoutSpec& spec);                                                  \
  void attention_forward(const Context& ctx, T* out, T* lse, const T* qkv,                         \
                         const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim, \
                         const DropoutSpec& dropout = {}, const BatchDims& dims = {});             \
  void attention_backward(const Context& ctx, T* dqkv, const T* dout, const T* qkv, const T* out,  \
                          const T* lse, const int64_t* cu_seqlens, int64_t nseq, int64_t heads,    \
                          int64_t head_dim, const DropoutSpec& dropout = {},                       \
                          const BatchDims& dims = {});                                             \
  void embedding_forward(const Context& ctx, T* out, const int32_t* ids, const int32_t* pos_ids,   \
                         const int64_t* cu_seqlens, int64_t nseq, const T* word, const T* pos,     \
                         const T* type, int64_t C);                                                \
  void embedding_backward(const Context& ctx, T* dword, T* dpos, T* dtype, const T* dout,          \
                          const int32_t* ids, const int32_t* pos_ids, const int64_t* cu_seqlens,   \
                          int64_t nseq, int64_t C, int32_t pad_id, int32_t pos_pad);               \
  void mean_pool_forward(const Context& ctx, T* out, const T* inp, const int64_t* cu_seqlens,      \
                         int64_t nseq, int64_t C);                                                 \
  void mean_pool_backward(const Context& ctx, T* dinp, const T* dout, const int64_t* cu_seqlens,   \
                          int64_t nseq, int64_t C);                                                \
  void cls_pool_forward(const Context& ctx, T* out, const T* inp, const int64_t* cu_seqlens,       \
                        int64_t nseq, int64_t C);                                                  \
  void cls_pool_backward(const Context& ctx, T* dinp, const T* dout, const int64_t* cu_seqlens,    \
                         int64_t nseq, int64_t C);                                                 \
  void l2norm_forward(const Context& ctx, T* out, T* norm, const T* inp, int64_t rows, int64_t C); \
  void l2norm_backward(const Context& ctx, T* dinp, const T* dout, const T* out, const T* norm,    \
                       int64_t rows, int64_t C);

SBERT_OPS_DECLARE(float)
SBERT_OPS_DECLARE(double)

// gelu_matmul_backward: the backward of out = gelu(pre) . weight^T + bias, act = gelu(pre)
// (rows, k) the GEMM's input: dpre (rows, k) written; dpre_sum (k) accumulates dpre's column
// sums (the bias gradient of the layer that produced pre; may be null); dweight (n, k), dbias
// (n) accumulated (may be null). matmul_backward + gelu_backward (+ the sums) on every backend;
// one cuBLASLt GEMM with the DGELU_BGRAD epilogue in bf16-mixed.
//
// bf16-mixed (ctx.bf16 on CUDA) only: the bf16 copy of the parameter block `weights` (count
// floats on the device) that every bf16 GEMM reads for a weight inside it (cuda/mixed.h).
// bind allocates it; refresh rounds the block into it in one launch and must follow every change
// of the block (AdamW's step, an upload, a load or resume). No-ops on any other Context.
void bind_weight_copy(const Context& ctx, const float* weights, int64_t count);
void refresh_weight_copy(const Context& ctx);

// What matmul_* over (rows, k) x (n, k) and attention over `tokens` tokens need beyond their
// operands (the mixed-precision paths' workspaces and scratch), allocated now: the trainer's
// memory plan. No-ops where the ops need none (the CPU, fp32 on CUDA).
void reserve_matmul(const Context& ctx, int64_t rows, int64_t k, int64_t n);
void reserve_attention(const Context& ctx, int64_t tokens, int64_t heads, int64_t head_dim);

// int8 inference linear layer (cpu/qgemm.h), CPU only: out (rows, w.n) = x (rows, w.k) . W^T + b
// with x quantized per row; scratch holds the quantized activations between calls.
void qlinear_forward(const Context& ctx, float* out, const float* x, const cpu::QWeight& w,
                     const float* bias, int64_t rows, cpu::QScratch& scratch, cpu::QIsa isa);
#undef SBERT_OPS_DECLARE

// The fused contrastive loss (train/loss.h has the shapes and modes; train/loss.cpp checks the
// arguments), computed in double on either device; on CUDA every pointer, neg_mask included, is
// device memory and only the statistics come back to the host.
LossStats contrastive_loss(const Context& ctx, const LossConfig& cfg, float* dq, float* dp,
                           float* dn, const float* q, const float* p, const float* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H);
// GradCache's row moves (cpu/train_kernels.h): out[r] = inp[index[r]], out[index[r]] = inp[r]
// for r < rows, rows of C floats; index is memory of ctx's device.
void gather_rows(const Context& ctx, float* out, const float* inp, const int64_t* index,
                 int64_t rows, int64_t C);
void scatter_rows(const Context& ctx, float* out, const float* inp, const int64_t* index,
                  int64_t rows, int64_t C);

}  // namespace sbert::ops
