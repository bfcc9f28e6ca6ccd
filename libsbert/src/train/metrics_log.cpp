#include "train/metrics_log.h"


#include <cmath>
#include <sstream>

#include "core/check.h"
#include "core/json_write.h"
#include "io/atomic_file.h"
#include "train/tfevents.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

const char* kCsvHeader =
    "step,epoch,loss,lr,grad_norm,accuracy,samples_per_sec,tokens_per_sec,elapsed_sec\n";

// The step of a metrics line: JSONL '{"step": N, ...' or CSV 'N,...'; -1 when unreadable.
int64_t step_of(const std::string& line, bool json) {
  size_t pos = 0;
  if (json) {
    pos = line.find("\"step\":");
    if (pos == std::string::npos) return -1;
    pos += 7;
  }
  try {
    return std::stoll(line.substr(pos));
  } catch (const std::exception&) {
    return -1;
  }
}

void cut_back(const fs::path& path, int64_t keep_through_step, bool json, const char* header) {
  std::string kept = header ? header : "";
  if (keep_through_step >= 0 && fs::exists(path)) {
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) {
      const int64_t s = step_of(line, json);
      if (s >= 0 && s <= keep_through_step) kept += line + "\n";
    }
  }
  write_file_atomic(path, kept);
}

std::FILE* open_append(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "ab");
  SBERT_CHECK(f, "[log] ", p.string(), ": cannot open for appending");
  return f;
}

// Nine significant digits (the log's format since version 1; a float's values all round-trip).
std::string num(double v) { return json_number(v, 9); }

}  // namespace

MetricsLog::MetricsLog(const fs::path& log_dir, int64_t keep_through_step, bool tensorboard)
    : jsonl_(log_dir / "metrics.jsonl"), csv_(log_dir / "metrics.csv") {
  fs::create_directories(log_dir);
  cut_back(jsonl_, keep_through_step, true, nullptr);
  cut_back(csv_, keep_through_step, false, kCsvHeader);
  jsonl_f_ = open_append(jsonl_);
  csv_f_ = open_append(csv_);
  if (tensorboard) tb_ = std::make_unique<TfEventsWriter>(log_dir / "tensorboard");
}

MetricsLog::~MetricsLog() {
  tb_.reset();
  if (jsonl_f_) std::fclose(jsonl_f_);
  if (csv_f_) std::fclose(csv_f_);
}

void MetricsLog::log_step(const StepMetrics& m) {
  JsonWriter j;  // one line, Python's default separators: {"step": 1, "epoch": 0, ...}
  j.begin_object(true).member("step", m.step).member("epoch", m.epoch);
  j.key("loss").raw(num(m.loss)).key("lr").raw(num(m.lr));
  j.key("grad_norm").raw(num(m.grad_norm)).key("accuracy").raw(num(m.accuracy));
  j.key("samples_per_sec").raw(num(m.samples_per_sec));
  j.key("tokens_per_sec").raw(num(m.tokens_per_sec));
  j.key("elapsed_sec").raw(num(m.elapsed_sec));
  if (m.loss_scale > 0) j.key("loss_scale").raw(num(m.loss_scale));  // 16-mixed only
  j.end_object();
  std::fputs((j.str() + "\n").c_str(), jsonl_f_);
  std::fprintf(csv_f_, "%lld,%lld,%s,%s,%s,%s,%s,%s,%s\n", static_cast<long long>(m.step),
               static_cast<long long>(m.epoch), num(m.loss).c_str(), num(m.lr).c_str(),
               num(m.grad_norm).c_str(), num(m.accuracy).c_str(), num(m.samples_per_sec).c_str(),
               num(m.tokens_per_sec).c_str(), num(m.elapsed_sec).c_str());
  std::fflush(jsonl_f_);
  std::fflush(csv_f_);
  if (tb_) {
    std::map<std::string, double> v = {{"loss", m.loss},
                                       {"lr", m.lr},
                                       {"grad_norm", m.grad_norm},
                                       {"accuracy", m.accuracy},
                                       {"samples_per_sec", m.samples_per_sec}};
    if (m.loss_scale > 0) v["loss_scale"] = m.loss_scale;
    tb_->scalars(m.step, v);
  }
}

void MetricsLog::log_validation(int64_t step, const std::map<std::string, double>& metrics) {
  JsonWriter j;
  j.begin_object(true).member("step", step).member("validation", true);
  for (const auto& [k, v] : metrics) j.key(k).raw(num(v));
  j.end_object();
  std::fputs((j.str() + "\n").c_str(), jsonl_f_);
  std::fflush(jsonl_f_);
  if (tb_) tb_->scalars(step, metrics);
}

std::optional<double> last_logged_loss(const fs::path& log_dir, int64_t through_step) {
  const fs::path file = log_dir / "metrics.jsonl";
  if (!fs::exists(file)) return std::nullopt;
  std::optional<double> loss;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    const int64_t s = step_of(line, true);
    const size_t at = line.find("\"loss\": ");
    if (s < 0 || s > through_step || at == std::string::npos) continue;
    try {
      loss = std::stod(line.substr(at + 8));
    } catch (const std::exception&) {  // "null": a non-finite loss
      loss = std::nan("");
    }
  }
  return loss;
}

}  // namespace sbert
