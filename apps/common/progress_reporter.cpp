#include "progress_reporter.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

namespace sbert::cli {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr double kTerminalRedrawSec = 0.1;  // in place: smooth enough, cheap enough
constexpr int kBarWidth = 24;

}  // namespace

bool progress_on_terminal() {
  const char* ci = std::getenv("CI");
  return ::isatty(STDERR_FILENO) != 0 && (ci == nullptr || *ci == '\0');
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

ProgressReporter::ProgressReporter(std::string program)
    : ProgressReporter(std::move(program), stderr, progress_on_terminal(), steady_seconds, 10.0) {}

ProgressReporter::ProgressReporter(std::string program, std::FILE* out, bool terminal, Clock clock,
                                   double interval_sec)
    : program_(std::move(program)),
      out_(out),
      terminal_(terminal),
      clock_(std::move(clock)),
      interval_(interval_sec) {}

ProgressReporter::~ProgressReporter() { end_line(); }

sbert::ProgressCallback ProgressReporter::callback() {
  return [this](const sbert::Progress& p) { update(p); };
}

void ProgressReporter::update(const sbert::Progress& p) {
  const double now = clock_();
  const bool new_stage = stage_ != p.stage || p.done < stage_done0_;
  if (new_stage) {
    end_line();
    stage_ = p.stage;
    stage_t0_ = now;
    stage_done0_ = p.done;
    last_draw_ = -1e300;
  }
  const bool last = p.total > 0 && p.done >= p.total;
  const double gap = terminal_ ? kTerminalRedrawSec : interval_;
  if (new_stage || last || now - last_draw_ >= gap) {
    draw(p, now);
    last_draw_ = now;
  }
  if (last) {
    end_line();
    stage_.clear();  // the same stage may run again (a second embed call): a fresh start
    stage_done0_ = 0;
  }
}

void ProgressReporter::draw(const sbert::Progress& p, double now) {
  const double elapsed = now - stage_t0_;
  const double rate =
      elapsed > 0 ? static_cast<double>(p.done - stage_done0_) / elapsed : std::nan("");
  const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : std::nan("");
  const double frac = p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0;
  char rate_text[32] = "--";
  if (std::isfinite(rate)) std::snprintf(rate_text, sizeof rate_text, "%.1f/s", rate);
  char line[512];
  std::snprintf(line, sizeof line, "%s %lld/%lld (%.1f%%) %s elapsed %s ETA %s", p.stage,
                static_cast<long long>(p.done), static_cast<long long>(p.total), 100.0 * frac,
                rate_text, format_duration(elapsed).c_str(),
                p.done >= p.total ? "00:00" : format_duration(eta).c_str());
  if (terminal_) {
    const int filled = static_cast<int>(frac * kBarWidth + 0.5);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kBarWidth, '.');
    std::fprintf(out_, "\r\033[K%s: [%s] %s", program_.c_str(), bar.c_str(), line);
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s: %s\n", program_.c_str(), line);
  }
  std::fflush(out_);
}

void ProgressReporter::end_line() {
  if (line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    line_open_ = false;
  }
}

}  // namespace sbert::cli
