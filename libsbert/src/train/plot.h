// Training curves as one self-contained SVG (no scripts, fonts or images from elsewhere), from
// a run's metrics.jsonl (train/metrics_log.h):
//
//   Training loss vs step   raw, and a smoothed line (bias-corrected exponential moving average)
//   Learning rate vs step
//   Validation vs step      val_loss, and every other numeric key of the validation lines
//                           (ndcg@10, recall@100, ...): losses and unbounded metrics get a
//                           panel each, metrics within [0, 1] share one panel with a legend
//
// Every panel shares the step axis. A null (non-finite) value breaks its line and is marked
// under the axis; a step logged twice (a resumed run that replayed steps) keeps its last record;
// lines that are not JSON objects with a "step" are skipped and counted.
#pragma once

#include "sbert/train.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sbert {

struct MetricPoint {
  int64_t step = 0;
  double value = 0;  // NaN for null / non-finite
};

struct TrainingLog {
  // key -> points sorted by step, one per step.
  std::map<std::string, std::vector<MetricPoint>> train;       // loss, lr, grad_norm, ...
  std::map<std::string, std::vector<MetricPoint>> validation;  // val_loss, ndcg@10, ...
  int64_t records = 0;                                         // lines read as records
  int64_t skipped_lines = 0;  // non-empty lines that are not records
};

// Reads metrics.jsonl. Throws "[plot] <file>: ..." when the file cannot be read.
TrainingLog read_metrics_log(const std::filesystem::path& file);

// The SVG document. Each drawn series is one <path class="series" ...> element.
std::string render_training_plot(const TrainingLog& log, const std::string& title);


}  // namespace sbert
