// Transcribed from NeMo, nemo/core/optim/lr_scheduler.py: WarmupPolicy.get_lr,
// WarmupAnnealHoldPolicy.get_lr, CosineAnnealing (_get_lr, _get_warmup_lr, _get_constant_lr),
// _cosine_annealing, _linear_warmup_with_cosine_annealing and WarmupAnnealing._get_lr. The
// arithmetic keeps Python's order of operations so the values match to the last bit.
#include "train/schedule.h"

#include <cmath>
#include <numbers>

#include "core/check.h"

namespace sbert {

ScheduleName parse_schedule_name(const std::string& name) {
  if (name == "CosineAnnealing" || name == "cosine") return ScheduleName::CosineAnnealing;
  if (name == "WarmupAnnealing" || name == "linear") return ScheduleName::WarmupAnnealing;
  if (name == "WarmupPolicy" || name == "constant") return ScheduleName::WarmupPolicy;
  fail("[schedule] model.optim.sched.name '", name,
       "' is not supported (CosineAnnealing, WarmupAnnealing, WarmupPolicy; or cosine, linear, "
       "constant)");
}

const char* to_string(ScheduleName name) {
  switch (name) {
    case ScheduleName::CosineAnnealing: return "CosineAnnealing";
    case ScheduleName::WarmupAnnealing: return "WarmupAnnealing";
    case ScheduleName::WarmupPolicy: return "WarmupPolicy";
  }
  return "?";
}

namespace {

// warmup_steps / warmup_ratio (or constant_*) to a step count, as NeMo: int(ratio * max_steps).
int64_t resolve_steps(const std::optional<int64_t>& steps, const std::optional<double>& ratio,
                      int64_t max_steps, const char* what) {
  SBERT_CHECK(!(steps && ratio), "[schedule] model.optim.sched.", what,
              "_steps and model.optim.sched.", what, "_ratio are both set; use one");
  if (steps) {
    SBERT_CHECK(*steps >= 0, "[schedule] model.optim.sched.", what, "_steps must be >= 0, got ",
                *steps);
    SBERT_CHECK(*steps <= max_steps, "[schedule] model.optim.sched.", what, "_steps (", *steps,
                ") is greater than trainer.max_steps (", max_steps, ")");
    return *steps;
  }
  if (ratio) {
    SBERT_CHECK(*ratio >= 0.0 && *ratio <= 1.0, "[schedule] model.optim.sched.", what,
                "_ratio must be in [0, 1], got ", *ratio);
    return static_cast<int64_t>(*ratio * static_cast<double>(max_steps));
  }
  return 0;
}

}  // namespace

LrSchedule::LrSchedule(const ScheduleConfig& cfg)
    : name_(parse_schedule_name(cfg.name)),
      lr_(cfg.lr),
      min_lr_(cfg.min_lr),
      max_steps_(cfg.max_steps),
      warmup_(0),
      constant_(0),
      decay_(0) {
  SBERT_CHECK(std::isfinite(lr_) && lr_ > 0.0, "[schedule] model.optim.lr must be positive, got ",
              lr_);
  SBERT_CHECK(std::isfinite(min_lr_) && min_lr_ >= 0.0,
              "[schedule] model.optim.sched.min_lr must be >= 0, got ", min_lr_);
  SBERT_CHECK(min_lr_ <= lr_, "[schedule] model.optim.sched.min_lr (", min_lr_,
              ") is greater than model.optim.lr (", lr_, ")");
  SBERT_CHECK(max_steps_ > 0, "[schedule] trainer.max_steps must be positive, got ", max_steps_);
  warmup_ = resolve_steps(cfg.warmup_steps, cfg.warmup_ratio, max_steps_, "warmup");
  if (name_ != ScheduleName::CosineAnnealing) {
    // Set to 0 is the same as unset (the trainer fills them in when epochs decide the length).
    SBERT_CHECK(cfg.constant_steps.value_or(0) == 0 && cfg.constant_ratio.value_or(0.0) == 0.0,
                "[schedule] model.optim.sched.constant_steps/constant_ratio are only used by "
                "CosineAnnealing (model.optim.sched.name is ", to_string(name_), ")");
  }
  // constant_steps may exceed max_steps - warmup: NeMo accepts it (schedule_warnings flags it),
  // so only the sign and the ratio range are checked.
  if (cfg.constant_steps) {
    SBERT_CHECK(!cfg.constant_ratio, "[schedule] model.optim.sched.constant_steps and "
                "model.optim.sched.constant_ratio are both set; use one");
    SBERT_CHECK(*cfg.constant_steps >= 0,
                "[schedule] model.optim.sched.constant_steps must be >= 0, got ",
                *cfg.constant_steps);
    constant_ = *cfg.constant_steps;
  } else if (cfg.constant_ratio) {
    constant_ = resolve_steps(std::nullopt, cfg.constant_ratio, max_steps_, "constant");
  }
  decay_ = max_steps_ - (constant_ + warmup_);
}

double LrSchedule::cosine_with_linear_warmup(int64_t step) const {
  // _linear_warmup_with_cosine_annealing(max_lr=lr, warmup_steps, step, decay_steps, min_lr).
  // NeMo asserts max_lr > min_lr; with max_lr == min_lr every branch below gives min_lr anyway.
  if (warmup_ > 0 && step <= warmup_) {
    return lr_ * static_cast<double>(step) / static_cast<double>(warmup_);
  }
  if (step > warmup_ + decay_) return min_lr_;
  if (decay_ <= 0) return min_lr_;  // NeMo divides 0 by 0 here (W == 0, D == 0, step 0)
  const double decay_ratio = static_cast<double>(step - warmup_) / static_cast<double>(decay_);
  const double delta_lr = lr_ - min_lr_;
  const double coeff = 0.5 * (std::cos(std::numbers::pi * decay_ratio) + 1.0);
  return min_lr_ + coeff * delta_lr;
}

double LrSchedule::lr_at(int64_t step) const {
  SBERT_CHECK(step >= 0, "[schedule] step must be >= 0, got ", step);
  const double s = static_cast<double>(step);
  if (name_ == ScheduleName::CosineAnnealing) {
    // WarmupAnnealHoldPolicy.get_lr
    if (warmup_ > 0 && step <= warmup_) {
      if (constant_ == 0) {  // WarmupAnnealHoldPolicy._get_warmup_lr
        const double lr_val = (s + 1.0) / (static_cast<double>(warmup_) + 1.0);
        return lr_ * lr_val;
      }
      return cosine_with_linear_warmup(step);
    }
    if (constant_ > 0 && warmup_ + decay_ < step && step <= max_steps_) {
      return cosine_with_linear_warmup(step);  // CosineAnnealing._get_constant_lr
    }
    if (step > max_steps_) return min_lr_;
    if (constant_ == 0) {
      // _cosine_annealing(lr, step - W, max_steps - W, min_lr)
      const double mult = 0.5 * (1.0 + std::cos(std::numbers::pi * (s - static_cast<double>(warmup_)) /
                                                 static_cast<double>(max_steps_ - warmup_)));
      return (lr_ - min_lr_) * mult + min_lr_;
    }
    return cosine_with_linear_warmup(step);
  }
  // WarmupPolicy.get_lr
  if (step <= warmup_ && warmup_ > 0) {
    const double lr_val = (s + 1.0) / (static_cast<double>(warmup_) + 1.0);
    return lr_ * lr_val;
  }
  if (step > max_steps_) return min_lr_;
  if (name_ == ScheduleName::WarmupPolicy) return lr_;
  // WarmupAnnealing._get_lr
  const double delta_lr = lr_ - min_lr_;
  const double mult = (s - static_cast<double>(warmup_)) / static_cast<double>(max_steps_ - warmup_);
  return min_lr_ + (1.0 - mult) * delta_lr;
}

std::string schedule_warnings(const ScheduleConfig& cfg) {
  const LrSchedule sched(cfg);
  std::string out;
  auto add = [&](const std::string& line) {
    if (!out.empty()) out += "\n";
    out += line;
  };
  if (sched.name() == ScheduleName::CosineAnnealing && sched.constant_steps() > 0) {
    const int64_t W = sched.warmup_steps(), C = sched.constant_steps(), M = sched.max_steps();
    if (W + C >= M) {
      const int64_t from = W > 0 ? W + 1 : 0;
      add(cat("[schedule] model.optim.sched.warmup_steps (", W, ") + constant_steps (", C,
              ") >= trainer.max_steps (", M, "): NeMo's CosineAnnealing then has no cosine decay "
              "at all and holds min_lr (", sched.min_lr(), ") from step ", from,
              " to the end (constant_steps is a hold at min_lr AFTER the decay, not at the "
              "peak); set constant_steps to 0 or below ", M - W, " to decay"));
    }
    if (sched.min_lr() == sched.base_lr()) {
      add(cat("[schedule] model.optim.sched.min_lr equals model.optim.lr (", sched.base_lr(),
              ") with constant_steps > 0: NeMo's CosineAnnealing asserts lr > min_lr there; "
              "libsbert keeps the learning rate constant"));
    }
  }
  return out;
}

}  // namespace sbert
