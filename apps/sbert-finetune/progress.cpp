#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace sbert::cli {

namespace {

std::string hms(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress() : tty_(::isatty(STDERR_FILENO) != 0) {}

void Progress::step(const StepInfo& s) {
  // The ETA uses this session's pace: steps since the step resumed from.
  const int64_t done = s.step - s.first_step;
  const double eta = done > 0 ? s.elapsed_sec / static_cast<double>(done) *
                                    static_cast<double>(s.max_steps - s.step)
                              : std::nan("");
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "step %lld/%lld | loss %.4f | lr %.3g | %.1f samples/s | %.0f tokens/s | ETA %s",
                static_cast<long long>(s.step), static_cast<long long>(s.max_steps), s.loss, s.lr,
                s.samples_per_sec, s.tokens_per_sec, hms(eta).c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", buf);
    line_open_ = true;
  } else if (s.log_due) {
    std::fprintf(stderr, "%s\n", buf);
  }
  std::fflush(stderr);
}

void Progress::validation(int64_t step, const std::map<std::string, double>& metrics) {
  end_line();
  std::string line = "step " + std::to_string(step) + ":";
  char buf[64];
  for (const auto& [k, x] : metrics) {
    std::snprintf(buf, sizeof buf, " %s %.6f", k.c_str(), x);
    line += buf;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Progress::message(MessageLevel level, const std::string& text) {
  end_line();
  std::fprintf(stderr, "sbert-finetune: %s%s\n", level == MessageLevel::Warning ? "warning: " : "",
               text.c_str());
}

void Progress::end_line() {
  if (line_open_) {
    std::fputc('\n', stderr);
    line_open_ = false;
  }
}

}  // namespace sbert::cli
