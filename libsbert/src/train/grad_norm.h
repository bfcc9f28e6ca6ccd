// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_(params, max_norm)
// (NeMo: trainer.gradient_clip_val, 1.0 in its embedding configs).
//
//   norm = sqrt(sum of squares over the whole gradient block)     (double accumulation)
//   coef = max_norm / (norm + 1e-6);  grads *= coef  only when coef < 1
//
// Split into pieces for data parallelism: each rank computes grad_sum_squares over its part,
// the sums are all-reduced, then clip_coefficient + scale_grads apply the same coefficient
// everywhere. clip_grad_norm is the single-process composition.
//
// max_norm <= 0 disables clipping (the norm is still returned), as gradient_clip_val 0 does in
// Lightning. A non-finite norm (inf/NaN gradients) leaves the gradients untouched and is
// returned as is, so the trainer can detect it and skip the step (torch would multiply the
// gradients by NaN or 0 there).
#pragma once

#include <cstdint>

#include "core/context.h"

namespace sbert {

// Sum of squares of grad (n) in double. Deterministic: fixed 4096-element chunks summed in
// order, whatever the thread count.
double grad_sum_squares(const Context& ctx, const float* grad, int64_t n);

// The factor to multiply the gradients by: min(1, max_norm / (sqrt(sum_squares) + 1e-6)),
// rounded to float; 1 when max_norm <= 0 or the norm is not finite.
float clip_coefficient(double sum_squares, double max_norm);

// grad *= coef; nothing to do when coef == 1.
void scale_grads(const Context& ctx, float* grad, int64_t n, float coef);

// Clips grad (n) in place and returns the norm before clipping.
double clip_grad_norm(const Context& ctx, float* grad, int64_t n, double max_norm);

// clip_grad_norm with the norm written to *norm (memory of ctx's device, one double) instead of
// returned. On CUDA everything is queued on the stream and nothing waits: the caller queues
// what follows (AdamW) and reads the norm after, so the GPU never idles for the host.
void clip_grad_norm_queued(const Context& ctx, float* grad, int64_t n, double max_norm,
                           double* norm);

// Allocates up front what clip_grad_norm_queued over n elements needs on ctx's device (nothing
// on the CPU): the trainer plans its device memory before the first step.
void reserve_clip_grad_norm(const Context& ctx, int64_t n);

}  // namespace sbert
