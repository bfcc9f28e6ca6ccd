// The run's figures for a person and for tools: metrics.jsonl (every step, every validation),
// metrics.csv (training steps, fixed columns), and with tensorboard on, TensorBoard event files
// in log_dir/tensorboard (train/tfevents.h). The terminal line is the app's (on_step).
//
// A resumed run first cuts both files back to the checkpoint's step, so that steps replayed
// after a crash are not logged twice; the cut rewrites the file atomically.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace sbert {

struct StepMetrics {
  int64_t step = 0;  // 1-based optimizer step just taken
  int64_t epoch = 0;
  double loss = 0, lr = 0, grad_norm = 0, accuracy = 0;
  double samples_per_sec = 0, tokens_per_sec = 0, elapsed_sec = 0;
  double loss_scale = 0;  // 16-mixed: the scale this step's backward used (0: none, not logged)
};

class TfEventsWriter;

class MetricsLog {
 public:
  // Opens (creating) log_dir/metrics.jsonl and metrics.csv for appending; keep_through_step >= 0
  // first drops every record of a later step (resume), -1 starts both files afresh.
  MetricsLog(const std::filesystem::path& log_dir, int64_t keep_through_step,
             bool tensorboard = false);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void log_step(const StepMetrics& m);
  void log_validation(int64_t step, const std::map<std::string, double>& metrics);


 private:
  std::filesystem::path jsonl_, csv_;
  std::FILE* jsonl_f_ = nullptr;
  std::FILE* csv_f_ = nullptr;
  std::unique_ptr<TfEventsWriter> tb_;
};

// The loss of the last training step <= through_step in log_dir/metrics.jsonl, if any: what a
// finished run reports when run again.
std::optional<double> last_logged_loss(const std::filesystem::path& log_dir, int64_t through_step);

}  // namespace sbert
