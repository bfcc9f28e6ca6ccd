#include "train/loss_scale.h"

#include <cmath>

#include "core/check.h"

namespace sbert {

namespace {
bool usable(float s) { return std::isfinite(s) && s > 0; }
}  // namespace

LossScaler::LossScaler(const LossScaleConfig& cfg) : cfg_(cfg) {
  const auto s = static_cast<float>(cfg.init_scale);
  SBERT_CHECK(usable(s), "[loss_scale] model.native_amp_init_scale must be positive and finite "
              "in fp32, got ", cfg.init_scale);
  SBERT_CHECK(cfg.growth_interval >= 1,
              "[loss_scale] model.native_amp_growth_interval must be positive, got ",
              cfg.growth_interval);
  SBERT_CHECK(cfg.hysteresis >= 1, "[loss_scale] model.hysteresis must be positive, got ",
              cfg.hysteresis);
  state_ = {s, 0, cfg.hysteresis};
}

float LossScaler::inv_scale() const {
  return static_cast<float>(1.0 / static_cast<double>(state_.scale));
}

bool LossScaler::update(bool finite) {
  LossScaleState& s = state_;
  if (finite) {
    s.hysteresis_tracker = cfg_.hysteresis;
    if (++s.growth_tracker == cfg_.growth_interval) {
      const float grown = s.scale * cfg_.growth_factor;
      if (std::isfinite(grown)) s.scale = grown;
      s.growth_tracker = 0;
    }
    return true;
  }
  s.growth_tracker = 0;
  if (--s.hysteresis_tracker <= 0) s.scale *= cfg_.backoff_factor;
  return false;
}

void LossScaler::set_state(const LossScaleState& s) {
  SBERT_CHECK(usable(s.scale), "[loss_scale] a saved loss scale must be positive and finite, got ",
              s.scale);
  state_ = s;
}

}  // namespace sbert
