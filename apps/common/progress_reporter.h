// The one progress display of every sbert-* app: a library operation's ProgressCallback (and
// sbert-finetune's steps) drawn on stderr with items/s and an ETA.
//   terminal (stderr a TTY and CI unset): one line redrawn in place with a bar, <= 10 times/s;
//   otherwise (a pipe, a log file, CI set): plain lines, the first and the last of each stage and
//   at most one per `interval` seconds between them, e.g.
//   "sbert-embed: embed 4096/5183 (79.0%) 212.4/s elapsed 00:19 ETA 00:05"
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "sbert/progress.h"

namespace sbert::cli {

// True when progress should be drawn in place: stderr is a terminal and CI is not set.
bool progress_on_terminal();

// "mm:ss", "h:mm:ss", or "--:--" for an unknown duration.
std::string format_duration(double seconds);

class ProgressReporter {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic

  // program: the prefix of every line ("sbert-embed"); defaults: stderr, the mode of
  // progress_on_terminal(), a steady clock, a plain line every 10 s.
  explicit ProgressReporter(std::string program);
  ProgressReporter(std::string program, std::FILE* out, bool terminal, Clock clock,
                   double interval_sec);
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;
  ~ProgressReporter();

  void update(const sbert::Progress& p);
  // A callback for the library's options; the reporter must outlive the call it is passed to.
  sbert::ProgressCallback callback();
  // Before printing anything else: ends a line drawn in place.
  void end_line();
  bool terminal() const { return terminal_; }

 private:
  void draw(const sbert::Progress& p, double now);
  std::string program_;
  std::FILE* out_;
  bool terminal_;
  Clock clock_;
  double interval_;
  std::string stage_;     // the stage being reported
  double stage_t0_ = 0;   // when it began
  int64_t stage_done0_ = 0;
  double last_draw_ = -1e300;
  bool line_open_ = false;
};

}  // namespace sbert::cli
