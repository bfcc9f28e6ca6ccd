// Dynamic loss scaling of trainer.precision 16-mixed: NeMo's GradScaler (torch.cuda.amp.GradScaler
// with hysteresis; nemo/collections/nlp/parts/nlp_overrides.py), on the host. fp16 GEMM operands
// hold |x| < 65520 and flush below 2^-24: the embedding gradients entering the encoder's backward
// are multiplied by scale() so that small gradients survive, the parameter gradients are
// multiplied by inv_scale() before clipping, and a step whose gradient norm is not finite (an
// operand overflowed) is skipped: no AdamW update, no LR schedule step (NeMo rewinds the
// scheduler), the global step still advances. After every step, update(finite):
//
//   finite:     hysteresis_tracker = hysteresis; growth_tracker += 1;
//               growth_tracker == growth_interval: scale *= 2 (if still finite), tracker = 0
//   not finite: hysteresis_tracker -= 1; growth_tracker = 0;
//               hysteresis_tracker <= 0: scale *= 0.5 (every further overflow in a row halves
//               it again: the tracker is only refilled by a finite step)
//
// The scale is an fp32 value as torch's; growth and backoff are powers of two, so exact.
// Defaults are NeMo's (model.native_amp_init_scale 2^32, model.native_amp_growth_interval
// 1000, model.hysteresis 2). The state goes into the checkpoint's trainer state, so a resumed
// run scales, skips and steps the schedule as the uninterrupted one.
#pragma once

#include <cstdint>

namespace sbert {

struct LossScaleState {
  float scale = 0;                 // the scale the next backward uses
  int64_t growth_tracker = 0;      // finite steps since the last growth or overflow
  int64_t hysteresis_tracker = 0;  // overflows left before the scale halves
  bool operator==(const LossScaleState&) const = default;
};

struct LossScaleConfig {
  double init_scale = 4294967296.0;  // 2^32
  int64_t growth_interval = 1000;
  int64_t hysteresis = 2;
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
};

class LossScaler {
 public:
  // Throws "[loss_scale] ..." naming the key for a scale that is not positive and finite in
  // fp32, or a growth interval or hysteresis below 1.
  explicit LossScaler(const LossScaleConfig& cfg);

  float scale() const { return state_.scale; }
  // 1 / scale rounded to fp32 (torch: scale.double().reciprocal().float()).
  float inv_scale() const;
  // Records a step: finite = its gradient norm was finite. Returns finite (whether the optimizer
  // step runs).
  bool update(bool finite);

  const LossScaleState& state() const { return state_; }
  void set_state(const LossScaleState& s);  // throws for a scale not positive and finite

 private:
  LossScaleConfig cfg_;
  LossScaleState state_;
};

}  // namespace sbert
