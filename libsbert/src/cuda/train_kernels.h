// CUDA twins of cpu/train_kernels.h (the fused contrastive loss, GradCache's row moves, AdamW
// and the gradient-clipping pieces); same formulas, device pointers, the Runtime last.
#pragma once

#include <cstdint>

#include "cpu/train_kernels.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

using cpu::AdamWScalars;

// ---- loss.cu: the fused contrastive loss (train/loss.h), in double like cpu/loss.cpp --------
// Every pointer is device memory (neg_mask included, or null); dq (B, H), dp (B, H), dn (B*K, H)
// written, each may be null. Rows of n whose mask is 0 are never read. Uses the Runtime's
// scratch block; only the summed statistics come back, by one small copy that waits for the
// stream (the gradients are queued before it, so they are complete on return as well).
LossStats contrastive_loss(float* dq, float* dp, float* dn, const float* q, const float* p,
                           const float* n, const uint8_t* neg_mask, int64_t B, int64_t K,
                           int64_t H, const LossConfig& cfg, Runtime& rt);
// The scratch bytes contrastive_loss needs (grads: any gradient wanted), and sizing the
// Runtime's scratch for it (the trainer's memory plan: the step then allocates nothing).
size_t contrastive_loss_scratch_bytes(const LossConfig& cfg, int64_t B, int64_t K, int64_t H,
                                      bool grads);
void reserve_contrastive_loss(const LossConfig& cfg, int64_t B, int64_t K, int64_t H, bool grads,
                              Runtime& rt);

// ---- rows.cu: GradCache's row moves between a micro-batch and the global batch ---------------
// out (rows, C): out[r] = inp[index[r]]
void gather_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C,
                 Runtime& rt);
// out[index[r]] = inp[r] for inp (rows, C); other rows of out untouched
void scatter_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C,
                  Runtime& rt);

// param, m, v (n) updated in place; grad (n). Every float operation is the CPU's, in the CPU's
// order and correctly rounded (no FMA contraction), so the result equals cpu::adamw_update
// bit for bit.
void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                  const AdamWScalars& s, Runtime& rt);

// adamw_update over a whole block of tensors in one launch: ends (nranges, device) the
// ascending end offsets of the ranges covering [0, n), decay (nranges, device) 1 where a
// range's tensor takes weight decay (with_decay's scalars), 0 otherwise (no_decay's).
void adamw_update_multi(float* param, float* m, float* v, const float* grad, int64_t n,
                        const int64_t* ends, const uint8_t* decay, int nranges,
                        const AdamWScalars& with_decay, const AdamWScalars& no_decay,
                        Runtime& rt);

// Clipping by the global norm with no host round trip (train/grad_norm.h's formulas): the sum
// of squares (sum_squares's chunks and order), the norm and coefficient on the device, x scaled
// when the coefficient is below 1; *norm_out (device memory) receives the norm before clipping.
// max_norm <= 0: the norm only. Queued on the stream; nothing synchronizes.
void clip_by_global_norm(float* x, int64_t n, double max_norm, double* norm_out, Runtime& rt);
// Sizes the Runtime's scratch for clip_by_global_norm over n elements (the trainer's memory
// plan: the step then allocates nothing).
void reserve_clip_by_global_norm(int64_t n, Runtime& rt);

// Sum of squares in double over fixed 4096-element chunks; the chunk partials are added in
// order on the host. Synchronizes the stream (the caller needs the value for clipping).
double sum_squares(const float* x, int64_t n, Runtime& rt);

// x *= coef
void scale_inplace(float* x, int64_t n, float coef, Runtime& rt);

}  // namespace sbert::cuda
