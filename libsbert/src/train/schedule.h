// Learning-rate schedules, transcribed from NeMo's nemo/core/optim/lr_scheduler.py so that a
// NeMo YAML (model.optim.lr, model.optim.sched.*) gives the same learning rate at every step.
//
// lr_at(step) is the learning rate of optimizer step `step` (0-based: the first update uses
// lr_at(0)). That is NeMo's get_lr() with last_epoch == step: torch's LRScheduler steps once
// at construction (last_epoch 0) and Lightning calls scheduler.step() after every optimizer
// step. With W = warmup steps, C = constant steps, D = max_steps - W - C, lr = model.optim.lr:
//
// CosineAnnealing, C == 0 (WarmupAnnealHoldPolicy + CosineAnnealing._get_lr):
//   step <= W (W > 0):  lr * (step + 1) / (W + 1)                 <- NeMo's warmup, not step / W
//   step <= max_steps:  (lr - min_lr) * 0.5 * (1 + cos(pi * (step - W) / (max_steps - W))) + min_lr
//   step >  max_steps:  min_lr
// CosineAnnealing, C > 0 (Megatron-style, _linear_warmup_with_cosine_annealing):
//   step <= W (W > 0):  lr * step / W                              <- starts at 0
//   step <= W + D:      min_lr + (lr - min_lr) * 0.5 * (cos(pi * (step - W) / D) + 1)
//   after:              min_lr   (C is a hold at min_lr AFTER the decay, not at the peak)
// WarmupAnnealing ("linear"; WarmupPolicy.get_lr + WarmupAnnealing._get_lr):
//   step <= W (W > 0):  lr * (step + 1) / (W + 1)
//   step <= max_steps:  min_lr + (1 - (step - W) / (max_steps - W)) * (lr - min_lr)
//   step >  max_steps:  min_lr
// WarmupPolicy ("constant"): the same warmup, then lr, and min_lr after max_steps.
//
// W = warmup_steps, or int(warmup_ratio * max_steps); C likewise from constant_steps /
// constant_ratio (CosineAnnealing only). Where NeMo would fail (assert lr > min_lr with C > 0,
// 0/0 when W == 0 and D == 0) libsbert returns the limit value and schedule_warnings says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sbert/train.h"

namespace sbert {

using ScheduleName = Schedule;  // sbert/train.h

// NeMo's names, or the aliases "cosine", "linear", "constant"; throws naming
// model.optim.sched.name otherwise.
ScheduleName parse_schedule_name(const std::string& name);
const char* to_string(ScheduleName name);

struct ScheduleConfig {
  std::string name = "CosineAnnealing";   // model.optim.sched.name
  double lr = 0.0;                        // model.optim.lr (the peak; required, > 0)
  int64_t max_steps = 0;                  // trainer.max_steps (required, > 0)
  std::optional<int64_t> warmup_steps;    // model.optim.sched.warmup_steps
  std::optional<double> warmup_ratio;     // model.optim.sched.warmup_ratio
  std::optional<int64_t> constant_steps;  // model.optim.sched.constant_steps (CosineAnnealing)
  std::optional<double> constant_ratio;   // model.optim.sched.constant_ratio (CosineAnnealing)
  double min_lr = 0.0;                    // model.optim.sched.min_lr
};

class LrSchedule {
 public:
  // Validates and resolves the ratios; throws sbert::Error naming the key, e.g.
  // "[schedule] model.optim.sched.warmup_steps (200) is greater than trainer.max_steps (100)".
  explicit LrSchedule(const ScheduleConfig& cfg);

  double lr_at(int64_t step) const;  // step >= 0

  ScheduleName name() const { return name_; }
  double base_lr() const { return lr_; }
  double min_lr() const { return min_lr_; }
  int64_t max_steps() const { return max_steps_; }
  int64_t warmup_steps() const { return warmup_; }
  int64_t constant_steps() const { return constant_; }
  int64_t decay_steps() const { return decay_; }  // max_steps - warmup - constant (may be <= 0)

 private:
  double cosine_with_linear_warmup(int64_t step) const;  // NeMo's C > 0 path

  ScheduleName name_;
  double lr_, min_lr_;
  int64_t max_steps_, warmup_, constant_, decay_;
};

// Warnings for configurations NeMo accepts but that probably do not do what was meant, one per
// line, empty when none. Chiefly: CosineAnnealing with constant_steps > 0 and
// warmup_steps + constant_steps >= max_steps has no decay at all (the learning rate drops from
// lr to min_lr right after warmup). Throws for invalid configurations, as LrSchedule does.
std::string schedule_warnings(const ScheduleConfig& cfg);

}  // namespace sbert
