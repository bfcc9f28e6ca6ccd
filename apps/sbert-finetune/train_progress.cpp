#include "train_progress.h"

#include <chrono>
#include <cmath>

#include "progress_reporter.h"

namespace sbert::cli {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::CosineAnnealing: return "CosineAnnealing";
    case Schedule::WarmupAnnealing: return "WarmupAnnealing";
    case Schedule::WarmupPolicy: return "WarmupPolicy";
  }
  return "?";
}

std::string g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string steps_line(const TrainOptions& opt, const RunPlan& p) {
  const auto& t = opt.trainer;
  const bool by_epochs = t.max_epochs > 0 && (t.max_steps <= 0 || p.last_step < t.max_steps);
  // An epoch may hold fewer batches than records / global_batch_size (model.data.dedupe_in_batch
  // defers duplicates): a limit by epochs is an upper bound.
  std::string s = std::to_string(p.last_step - p.first_step) + " steps to run" +
                   (by_epochs ? " at most" : "");
  if (p.first_step > 0) s += " (steps " + std::to_string(p.first_step + 1) + "-" +
                             std::to_string(p.last_step) + ", resumed at " +
                             std::to_string(p.first_step) + ")";
  s += ": ";
  const std::string per_epoch = std::to_string(p.batches_per_epoch) + " global batches per epoch";
  if (t.max_steps > 0 && t.max_epochs > 0 && p.last_step < t.max_steps) {
    s += "trainer.max_epochs=" + std::to_string(t.max_epochs) + " x " + per_epoch +
         " ends the run before trainer.max_steps=" + std::to_string(t.max_steps);
  } else if (t.max_steps > 0) {
    s += "trainer.max_steps=" + std::to_string(t.max_steps) + " (" + per_epoch + ")";
  } else {
    s += "trainer.max_epochs=" + std::to_string(t.max_epochs) + " x " + per_epoch;
  }
  return s;
}

}  // namespace

std::string startup_summary(const TrainOptions& opt, const RunPlan& p) {
  const auto& m = opt.model;
  const auto& d = m.data;
  std::string out;
  const auto line = [&](const std::string& text) { out += text + "\n"; };
  line("model: " + opt.restore_from_path);
  std::string data = "data: " + std::to_string(p.train_examples) + " training records";
  if (p.train_skipped > 0) data += " (" + std::to_string(p.train_skipped) + " bad ones skipped)";
  if (p.validation_examples > 0)
    data += ", " + std::to_string(p.validation_examples) + " validation records (val_loss)";
  if (p.validation_beir_queries > 0) {
    data += ", BEIR validation " + std::to_string(p.validation_beir_queries) + " queries x " +
            std::to_string(p.validation_beir_docs) + " documents";
  }
  if (p.validation_sts_pairs > 0)
    data += ", STS validation " + std::to_string(p.validation_sts_pairs) + " pairs";
  line(data);
  const int64_t per_rank = m.global_batch_size / p.world_size;
  line("batch: global " + std::to_string(m.global_batch_size) + " = " +
       std::to_string(p.world_size) + (p.world_size == 1 ? " rank" : " ranks") + " x " +
       std::to_string(per_rank) + " queries, in " + std::to_string(p.accumulation_steps) +
       " micro-batch" + (p.accumulation_steps == 1 ? "" : "es") + " of " +
       std::to_string(m.micro_batch_size) + " (GradCache: one optimizer step per global batch); " +
       std::to_string(d.hard_negatives_to_train) + " hard negatives per query, in-batch negatives " +
       (m.global_inbatch_negatives ? "across the global batch" : "within each rank"));
  line("steps: " + steps_line(opt, p));
  const auto& sc = m.optim.sched;
  line(std::string("schedule: ") + schedule_name(sc.name) + " over " +
       std::to_string(p.max_steps) + " steps, lr " + g(m.optim.lr) + " -> min_lr " +
       g(sc.min_lr) + ", warmup " + std::to_string(p.warmup_steps) + ", constant " +
       std::to_string(p.constant_steps) + "; validation every " +
       std::to_string(opt.val_check_steps(p.batches_per_epoch)) + " steps");
  line(std::string("device: ") + p.device + ", " + std::to_string(p.threads) + " CPU threads, " +
       (opt.trainer.precision == Precision::BF16Mixed   ? "bf16-mixed"
        : opt.trainer.precision == Precision::FP16Mixed ? "16-mixed"
                                                        : "fp32") +
       (p.world_size > 1 ? ", " + std::to_string(p.world_size) + " processes" : "") +
       (p.device_memory_bytes > 0
            ? ", " + std::to_string((p.device_memory_bytes + (1 << 20) - 1) >> 20) +
                  " MiB of device memory planned"
            : ""));
  std::string logs = "logs: " + p.log_dir.string() + " (metrics.jsonl, metrics.csv, checkpoints/";
  if (!p.tensorboard_dir.empty()) logs += ", tensorboard/: tensorboard --logdir " +
                                          p.tensorboard_dir.string();
  line(logs + ")");
  if (d.add_prefix) {
    line("prefixes: query \"" + d.query_prefix + "\", passage \"" + d.passage_prefix + "\"");
  }
  for (const std::string& k : opt.ignored_keys) {
    line("ignored: " + k + ": " + TrainOptions::ignored_key_reason(k));
  }
  return out;
}

TrainProgress::TrainProgress()
    : TrainProgress(stderr, progress_on_terminal(), steady_seconds, 30.0) {}

TrainProgress::TrainProgress(std::FILE* out, bool terminal, Clock clock, double max_quiet_sec)
    : out_(out), tty_(terminal), clock_(std::move(clock)), max_quiet_(max_quiet_sec) {
  last_line_ = clock_();
}

void TrainProgress::start(const TrainOptions& opt, const RunPlan& plan) {
  end_line();
  const std::string text = startup_summary(opt, plan);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::fprintf(out_, "sbert-finetune: %s\n", text.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
  std::fflush(out_);
  last_line_ = clock_();
}

std::string TrainProgress::step_line(const StepInfo& s) {
  // The ETA uses this session's pace (steps since the step resumed from) and the steps that
  // will really run: max_epochs may end the run long before max_steps.
  const int64_t done = s.step - s.first_step;
  const int64_t end = s.last_step > 0 ? s.last_step : s.max_steps;
  const double eta = done > 0 ? s.elapsed_sec / static_cast<double>(done) *
                                    static_cast<double>(end - s.step)
                              : std::nan("");
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "step %lld/%lld | loss %.4f | lr %.3g | %.1f samples/s | %.0f tokens/s | "
                "elapsed %s | ETA %s",
                static_cast<long long>(s.step), static_cast<long long>(end), s.loss, s.lr,
                s.samples_per_sec, s.tokens_per_sec, format_duration(s.elapsed_sec).c_str(),
                format_duration(eta).c_str());
  return buf;
}

void TrainProgress::step(const StepInfo& s) {
  const std::string text = step_line(s);
  const double now = clock_();
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", text.c_str());
    line_open_ = true;
  } else if (s.log_due || now - last_line_ >= max_quiet_) {
    std::fprintf(out_, "%s\n", text.c_str());
    last_line_ = now;
  }
  std::fflush(out_);
}

void TrainProgress::validation(int64_t step, const std::map<std::string, double>& metrics) {
  end_line();
  std::string line = "step " + std::to_string(step) + ":";
  char buf[64];
  for (const auto& [k, x] : metrics) {
    std::snprintf(buf, sizeof buf, " %s %.6f", k.c_str(), x);
    line += buf;
  }
  std::fprintf(out_, "%s\n", line.c_str());
  last_line_ = clock_();
}

void TrainProgress::message(MessageLevel level, const std::string& text) {
  end_line();
  std::fprintf(out_, "sbert-finetune: %s%s\n", level == MessageLevel::Warning ? "warning: " : "",
               text.c_str());
  last_line_ = clock_();
}

void TrainProgress::end_line() {
  if (line_open_) {
    std::fputc('\n', out_);
    line_open_ = false;
  }
}

}  // namespace sbert::cli
