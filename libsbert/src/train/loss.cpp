#include "train/loss.h"

#include <climits>
#include <cmath>

#include "core/check.h"
#include "cpu/train_kernels.h"
#include "cuda/train_kernels.h"
#include "ops/ops.h"

namespace sbert {

LossMode parse_loss_mode(const std::string& name) {
  if (name == "exclusive_hard_negatives" || name == "nemo") return LossMode::ExclusiveHardNegatives;
  if (name == "shared_negatives" || name == "mnrl") return LossMode::SharedNegatives;
  fail("[loss] unknown loss mode '", name,
       "' (expected exclusive_hard_negatives (nemo) or shared_negatives (mnrl))");
}

const char* to_string(LossMode mode) {
  return mode == LossMode::ExclusiveHardNegatives ? "exclusive_hard_negatives"
                                                  : "shared_negatives";
}

double LossConfig::logit_scale() const {
  return mode == LossMode::ExclusiveHardNegatives ? 1.0 / softmax_temp
                                                  : scale;
}

void validate(const LossConfig& cfg) {
  if (cfg.mode == LossMode::ExclusiveHardNegatives) {
    SBERT_CHECK(std::isfinite(cfg.softmax_temp) && cfg.softmax_temp > 0.0,
                "[loss] model.softmax_temp must be positive, got ", cfg.softmax_temp);
  } else {
    SBERT_CHECK(std::isfinite(cfg.scale) && cfg.scale > 0.0,
                "[loss] scale must be positive, got ", cfg.scale);
  }
  SBERT_CHECK(cfg.label_smoothing >= 0.0 && cfg.label_smoothing <= 1.0,
              "[loss] model.label_smoothing must be in [0, 1], got ", cfg.label_smoothing);
  SBERT_CHECK(cfg.block_rows >= 0, "[loss] block_rows must be >= 0, got ", cfg.block_rows);
}

namespace {

void check_shapes(const LossConfig& cfg, const void* q, const void* p, const void* n, int64_t B,
                  int64_t K, int64_t H) {
  validate(cfg);
  SBERT_CHECK(B > 0, "[loss] batch size B must be positive, got ", B);
  SBERT_CHECK(K >= 0, "[loss] hard negatives per query K must be >= 0, got ", K);
  SBERT_CHECK(H > 0, "[loss] embedding size H must be positive, got ", H);
  SBERT_CHECK(q && p, "[loss] queries and positives must not be null");
  SBERT_CHECK(K == 0 || n, "[loss] hard negatives are null but K is ", K);
  // BLAS takes int sizes: the widest matrix is the (B, B + B*K) score block's row and
  // the (B*K, H) negatives.
  const int64_t cols = cfg.mode == LossMode::SharedNegatives ? B * (1 + K) : B + K;
  SBERT_CHECK(cols < INT_MAX && B * K < INT_MAX && H < INT_MAX,
              "[loss] sizes too large for BLAS: B=", B, " K=", K, " H=", H);
}

}  // namespace

LossStats contrastive_loss(const Context& ctx, const LossConfig& cfg, float* dq, float* dp,
                           float* dn, const float* q, const float* p, const float* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H) {
  check_shapes(cfg, q, p, n, B, K, H);
  return ops::contrastive_loss(ctx, cfg, dq, dp, dn, q, p, n, neg_mask, B, K, H);
}

size_t contrastive_loss_reserve_bytes(const Context& ctx, const LossConfig& cfg, int64_t B,
                                      int64_t K, int64_t H) {
  if (ctx.device != Device::CUDA) return 0;
  return cuda::contrastive_loss_scratch_bytes(cfg, B, K, H, true);
}

void reserve_contrastive_loss(const Context& ctx, const LossConfig& cfg, int64_t B, int64_t K,
                              int64_t H) {
  if (ctx.device != Device::CUDA) return;
  cuda::reserve_contrastive_loss(cfg, B, K, H, true, cuda_runtime(ctx, "loss"));
}

LossStats contrastive_loss(const LossConfig& cfg, double* dq, double* dp, double* dn,
                           const double* q, const double* p, const double* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H) {
  check_shapes(cfg, q, p, n, B, K, H);
  return cpu::contrastive_loss(dq, dp, dn, q, p, n, neg_mask, B, K, H, cfg);
}

}  // namespace sbert
