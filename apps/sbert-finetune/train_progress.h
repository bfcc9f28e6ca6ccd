// The terminal side of a training run, all on stderr: the start-up summary, the step line,
// validation lines and messages. On a terminal (progress_on_terminal()) the step line is redrawn
// in place; otherwise a plain line is printed at every trainer.log_every_n_steps step
// (StepInfo::log_due) and whenever `max_quiet_sec` passed without one, so that a log shows life
// at least that often however slow the steps are.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "sbert/train.h"

namespace sbert::cli {

// The start-up summary: model, data, batch layout, the steps that will really run (max_steps
// and max_epochs both applied), schedule, device, threads, log dir, and each NeMo key accepted
// without effect with the reason. Lines without a trailing newline's program prefix.
std::string startup_summary(const TrainOptions& opt, const RunPlan& plan);

class TrainProgress {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  TrainProgress();
  TrainProgress(std::FILE* out, bool terminal, Clock clock, double max_quiet_sec);
  void start(const TrainOptions& opt, const RunPlan& plan);
  void step(const StepInfo& s);
  void validation(int64_t step, const std::map<std::string, double>& metrics);
  void message(MessageLevel level, const std::string& text);
  void end_line();  // closes an in-place line before anything else is printed

  // The step line: "step 3/8 | loss 1.2345 | lr 0.0002 | 12.1 samples/s | ... | ETA 00:12".
  static std::string step_line(const StepInfo& s);

 private:
  std::FILE* out_;
  bool tty_ = false;
  Clock clock_;
  double max_quiet_;
  double last_line_ = 0;
  bool line_open_ = false;
};

}  // namespace sbert::cli
