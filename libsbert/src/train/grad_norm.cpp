#include "train/grad_norm.h"

#include <cmath>

#include "core/check.h"
#include "cpu/train_kernels.h"
#include "cuda/train_kernels.h"

namespace sbert {

double grad_sum_squares(const Context& ctx, const float* grad, int64_t n) {
  SBERT_CHECK(n >= 0, "[grad_norm] size must be >= 0, got ", n);
  SBERT_CHECK(n == 0 || grad, "[grad_norm] gradient block is null (size ", n, ")");
  if (ctx.device == Device::CUDA) return cuda::sum_squares(grad, n, cuda_runtime(ctx, "grad_norm"));
  return cpu::sum_squares(grad, n);
}

float clip_coefficient(double sum_squares, double max_norm) {
  const double norm = std::sqrt(sum_squares);
  if (!(max_norm > 0.0) || !std::isfinite(norm)) return 1.0f;
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

void scale_grads(const Context& ctx, float* grad, int64_t n, float coef) {
  SBERT_CHECK(n >= 0, "[grad_norm] size must be >= 0, got ", n);
  SBERT_CHECK(std::isfinite(coef), "[grad_norm] clip coefficient must be finite, got ", coef);
  if (coef == 1.0f || n == 0) return;
  SBERT_CHECK(grad, "[grad_norm] gradient block is null (size ", n, ")");
  if (ctx.device == Device::CUDA) {
    cuda::scale_inplace(grad, n, coef, cuda_runtime(ctx, "grad_norm"));
  } else {
    cpu::scale_inplace(grad, n, coef);
  }
}

void clip_grad_norm_queued(const Context& ctx, float* grad, int64_t n, double max_norm,
                           double* norm) {
  if (ctx.device == Device::CPU) {
    *norm = clip_grad_norm(ctx, grad, n, max_norm);
    return;
  }
  SBERT_CHECK(n >= 0, "[grad_norm] size must be >= 0, got ", n);
  SBERT_CHECK(n == 0 || grad, "[grad_norm] gradient block is null (size ", n, ")");
  cuda::clip_by_global_norm(grad, n, max_norm, norm, cuda_runtime(ctx, "grad_norm"));
}

double clip_grad_norm(const Context& ctx, float* grad, int64_t n, double max_norm) {
  const double ss = grad_sum_squares(ctx, grad, n);
  scale_grads(ctx, grad, n, clip_coefficient(ss, max_norm));
  return std::sqrt(ss);
}

void reserve_clip_grad_norm(const Context& ctx, int64_t n) {
  if (ctx.device == Device::CUDA) {
    cuda::reserve_clip_by_global_norm(n, cuda_runtime(ctx, "grad_norm"));
  }
}

}  // namespace sbert
