// The terminal side of a training run: the progress line, validation lines and messages, all on
// stderr. On a terminal the progress line is rewritten in place; otherwise one line is printed
// every trainer.log_every_n_steps steps (StepInfo::log_due).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "sbert/train.h"

namespace sbert::cli {

class Progress {
 public:
  Progress();
  void step(const StepInfo& s);
  void validation(int64_t step, const std::map<std::string, double>& metrics);
  void message(MessageLevel level, const std::string& text);
  void end_line();  // closes an in-place line before anything else is printed

 private:
  bool tty_ = false;
  bool line_open_ = false;
};

}  // namespace sbert::cli
