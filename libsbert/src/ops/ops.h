// The one dispatch point between backends: every op takes the Context and its argument struct
// (ops/args.h: the shapes; its pointers are memory of ctx's device), and calls cpu::name or
// cuda::name with the same struct (cpu/kernels.h has THE GRADIENT RULE). nn/ calls only these.
//
// Each op exists for float (every backend) and double (CPU only: the finite-difference
// gradient tests run the whole encoder in fp64; on another device the fp64 ops throw).
#pragma once

#include <cstdint>

#include "core/context.h"
#include "core/rng.h"
#include "cpu/gemm_bf16x3.h"
#include "cpu/qgemm.h"
#include "ops/args.h"
#include "train/loss.h"

namespace sbert::ops {

// Every op of ops/args.h for float (every backend) and double (the CPU only):
//   void op(const Context& ctx, const Args<T>& args);
#define SBERT_OPS_DECLARE(op, Args)                     \
  void op(const Context& ctx, const Args<float>& args); \
  void op(const Context& ctx, const Args<double>& args);
SBERT_FOR_EACH_OP(SBERT_OPS_DECLARE)
#undef SBERT_OPS_DECLARE
// gelu_matmul_backward is matmul_backward + gelu_backward (+ the sums) on every backend, and one
// cuBLASLt GEMM with the DGELU_BGRAD epilogue in bf16-mixed.

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

// bf16 activations (args.h's inp16 / keep16 and attention's qkv16 / out16): whether ctx's GEMMs
// read bf16 operands (bf16-mixed on CUDA), so that a caller may keep its GEMM inputs in bf16
// only; and whether attention of head_dim runs a bf16 kernel (ours or cuDNN's) and so takes and
// keeps bf16 qkv and output. Any other path refuses those fields.
bool bf16_activations(const Context& ctx);
bool bf16_attention_io(const Context& ctx, int64_t head_dim);

// fp32 inference linear layer with bf16x3 products on AMX tiles (cpu/gemm_bf16x3.h), CPU
// only: out (rows, w.n) = x (rows, w.k) . W^T + b (then GELU when gelu).
void bf16x3_linear_forward(const Context& ctx, float* out, const float* x,
                           const cpu::SplitWeight& w, const float* bias, int64_t rows,
                           cpu::SplitScratch& scratch, bool gelu = false);

// int8 inference linear layer (cpu/qgemm.h), CPU only: out (rows, w.n) = x (rows, w.k) . W^T + b
// (then GELU when gelu) with x quantized per row; scratch holds the quantized activations
// between calls.
void qlinear_forward(const Context& ctx, float* out, const float* x, const cpu::QWeight& w,
                     const float* bias, int64_t rows, cpu::QScratch& scratch, cpu::QIsa isa,
                     bool gelu = false);

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
