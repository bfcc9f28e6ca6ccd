#include "train/grad_norm.h"

#include <cmath>

#include "core/check.h"
#include "cpu/train_kernels.h"

namespace sbert {

namespace {
void require_cpu(const Context& ctx, const char* op) {
  SBERT_CHECK(ctx.device == Device::CPU, "[", op,
              "] has no CUDA implementation yet (train on the CPU: trainer.accelerator=cpu)");
}
}  // namespace

double grad_sum_squares(const Context& ctx, const float* grad, int64_t n) {
  require_cpu(ctx, "grad_norm");
  SBERT_CHECK(n >= 0, "[grad_norm] size must be >= 0, got ", n);
  SBERT_CHECK(n == 0 || grad, "[grad_norm] gradient block is null (size ", n, ")");
  return cpu::sum_squares(grad, n);
}

float clip_coefficient(double sum_squares, double max_norm) {
  const double norm = std::sqrt(sum_squares);
  if (!(max_norm > 0.0) || !std::isfinite(norm)) return 1.0f;
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

void scale_grads(const Context& ctx, float* grad, int64_t n, float coef) {
  require_cpu(ctx, "grad_norm");
  SBERT_CHECK(n >= 0, "[grad_norm] size must be >= 0, got ", n);
  SBERT_CHECK(std::isfinite(coef), "[grad_norm] clip coefficient must be finite, got ", coef);
  if (coef == 1.0f || n == 0) return;
  SBERT_CHECK(grad, "[grad_norm] gradient block is null (size ", n, ")");
  cpu::scale_inplace(grad, n, coef);
}

double clip_grad_norm(const Context& ctx, float* grad, int64_t n, double max_norm) {
  const double ss = grad_sum_squares(ctx, grad, n);
  scale_grads(ctx, grad, n, clip_coefficient(ss, max_norm));
  return std::sqrt(ss);
}

}  // namespace sbert
