// CPU kernels of the training step that are not layers: the fused contrastive loss, GradCache's
// row moves, AdamW and the pieces of gradient clipping. Same conventions as cpu/kernels.h
// (outputs first, then inputs, then sizes; activation gradients written, parameter state
// updated in place).
// The callers in train/ check the arguments; these kernels trust them.
#pragma once

#include <cstdint>

#include "train/loss.h"

namespace sbert::cpu {

// ---- loss.cpp: fused contrastive loss (train/loss.h has the shapes and the modes) -----------
// dq (B, H), dp (B, H), dn (B*K, H) written, each may be null. The float version computes in
// double and rounds the outputs.
LossStats contrastive_loss(float* dq, float* dp, float* dn, const float* q, const float* p,
                           const float* n, const uint8_t* neg_mask, int64_t B, int64_t K,
                           int64_t H, const LossConfig& cfg);
LossStats contrastive_loss(double* dq, double* dp, double* dn, const double* q, const double* p,
                           const double* n, const uint8_t* neg_mask, int64_t B, int64_t K,
                           int64_t H, const LossConfig& cfg);

// ---- rows.cpp: GradCache's row moves (the twins of cuda/rows.cu) ----------------------------
// out (rows, C): out[r] = inp[index[r]]
void gather_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C);
// out[index[r]] = inp[r] for inp (rows, C); other rows of out untouched
void scatter_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C);

// ---- adamw.cpp: one AdamW step over a contiguous range, torch.optim.AdamW's arithmetic ------
// The per-step scalars are computed once in double (train/adamw.cpp) and rounded to float as
// PyTorch rounds its Python scalars; the element-wise math then follows torch's float ops:
//   p *= decay_mul;  m += one_minus_beta1 * (g - m);  v = v * beta2 + one_minus_beta2 * g * g;
//   p += neg_step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
struct AdamWScalars {
  float decay_mul;               // 1 - lr * weight_decay (1 for tensors without decay)
  float one_minus_beta1;         // 1 - beta1
  float beta2;
  float one_minus_beta2;         // 1 - beta2
  float bias_correction2_sqrt;   // sqrt(1 - beta2^step)
  float neg_step_size;           // -lr / (1 - beta1^step)
  float eps;
};
// param, m, v (n) updated in place; grad (n).
void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                  const AdamWScalars& s);

// ---- adamw.cpp: gradient clipping pieces --------------------------------------------------
// Sum of squares in double over fixed 4096-element chunks added in order: the result does not
// depend on the thread count.
double sum_squares(const float* x, int64_t n);
// x *= coef
void scale_inplace(float* x, int64_t n, float coef);

}  // namespace sbert::cpu
