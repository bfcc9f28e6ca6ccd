// Progress on every long job: the apps' reporter (plain lines off a terminal, rate-limited),
// sbert-finetune's start-up summary and step line (the steps that will really run), TensorBoard
// event files read back record by record, and a finished run started again.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "progress_reporter.h"
#include "support/fixtures.h"
#include "train/tfevents.h"
#include "train_progress.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// Everything a FILE* received, read back.
struct Capture {
  std::FILE* f = std::tmpfile();
  ~Capture() { std::fclose(f); }
  std::string text() const {
    std::fflush(f);
    std::rewind(f);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fseek(f, 0, SEEK_END);
    return out;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

}  // namespace

TEST_CASE("progress: plain lines off a terminal, first/last of a stage, rate-limited between",
          "[progress]") {
  Capture out;
  double now = 100;
  cli::ProgressReporter r("sbert-embed", out.f, /*terminal=*/false, [&] { return now; }, 10.0);
  r.update({"embed", 0, 100});
  now = 101;
  r.update({"embed", 10, 100});  // 1 s after the last line: suppressed
  now = 109.5;
  r.update({"embed", 40, 100});  // still under 10 s
  now = 110;
  r.update({"embed", 50, 100});  // 10 s: printed, 5 items/s, 50 left -> 10 s
  now = 111;
  r.update({"embed", 100, 100});  // the last is always printed
  const auto lines = out.lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "sbert-embed: embed 0/100 (0.0%) -- elapsed 00:00 ETA --:--");
  CHECK(lines[1] == "sbert-embed: embed 50/100 (50.0%) 5.0/s elapsed 00:10 ETA 00:10");
  CHECK(lines[2] == "sbert-embed: embed 100/100 (100.0%) 9.1/s elapsed 00:11 ETA 00:00");
  CHECK(out.text().find('\r') == std::string::npos);  // no in-place drawing in a log

  // A new stage starts its own clock and count, and prints at once.
  now = 112;
  r.update({"search", 0, 4});
  now = 114;
  r.update({"search", 4, 4});
  const auto more = out.lines();
  REQUIRE(more.size() == 5);
  CHECK(more[3] == "sbert-embed: search 0/4 (0.0%) -- elapsed 00:00 ETA --:--");
  CHECK(more[4] == "sbert-embed: search 4/4 (100.0%) 2.0/s elapsed 00:02 ETA 00:00");
}

TEST_CASE("progress: on a terminal one line is redrawn in place with a bar", "[progress]") {
  Capture out;
  double now = 0;
  {
    cli::ProgressReporter r("sbert-eval", out.f, /*terminal=*/true, [&] { return now; }, 10.0);
    r.update({"embed corpus", 0, 8});
    now = 0.05;
    r.update({"embed corpus", 2, 8});  // under 0.1 s: not redrawn
    now = 1;
    r.update({"embed corpus", 4, 8});
  }  // the destructor ends the open line
  const std::string t = out.text();
  CHECK_THAT(t, Contains("\r\033[Ksbert-eval: [........................] embed corpus 0/8"));
  CHECK_THAT(t, Contains("\r\033[Ksbert-eval: [############............] embed corpus 4/8 "
                         "(50.0%) 4.0/s elapsed 00:01 ETA 00:01"));
  CHECK(t.find("2/8") == std::string::npos);
  CHECK(t.back() == '\n');
}

TEST_CASE("progress: durations", "[progress]") {
  CHECK(cli::format_duration(0) == "00:00");
  CHECK(cli::format_duration(59.6) == "01:00");
  CHECK(cli::format_duration(3725) == "1:02:05");
  CHECK(cli::format_duration(-1) == "--:--");
  CHECK(cli::format_duration(std::nan("")) == "--:--");
}

TEST_CASE("finetune progress: the ETA counts the steps that will run - a line at least every 30 s",
          "[progress][finetune]") {
  StepInfo s;
  s.step = 2;
  s.first_step = 0;
  s.max_steps = 10000;  // the schedule's length
  s.last_step = 8;      // max_epochs ends the run here
  s.loss = 1.5;
  s.lr = 1e-4;
  s.elapsed_sec = 10;  // 5 s per step, 6 to go
  const std::string line = cli::TrainProgress::step_line(s);
  CHECK_THAT(line, Contains("step 2/8 | loss 1.5000"));
  CHECK_THAT(line, Contains("ETA 00:30"));

  Capture out;
  double now = 0;
  cli::TrainProgress p(out.f, /*terminal=*/false, [&] { return now; }, 30.0);
  s.log_due = false;
  now = 10;
  p.step(s);  // not due, 10 s quiet: nothing
  now = 31;
  p.step(s);  // not due, 31 s quiet: a line
  now = 40;
  s.log_due = true;
  p.step(s);  // due: a line
  CHECK(out.lines().size() == 2);
}

TEST_CASE("finetune summary: max_steps and max_epochs both applied, ignored keys with why",
          "[progress][finetune]") {
  TrainOptions o;
  o.restore_from_path = "models/m";
  o.trainer.max_steps = 10000;
  o.trainer.max_epochs = 1;
  o.ignored_keys = {"exp_manager.create_wandb_logger", "model.tensor_model_parallel_size"};
  RunPlan p;
  p.train_examples = 64;
  p.batches_per_epoch = 8;
  p.accumulation_steps = 2;
  p.max_steps = 10000;
  p.last_step = 8;
  p.threads = 2;
  p.log_dir = "runs/r1";
  p.tensorboard_dir = "runs/r1/tensorboard";
  const std::string s = cli::startup_summary(o, p);
  CHECK_THAT(s, Contains("data: 64 training records"));
  CHECK_THAT(s, Contains("batch: global 8 = 1 rank x 8 queries, in 2 micro-batches of 4 (GradCache"));
  CHECK_THAT(s, Contains("steps: 8 steps to run at most: trainer.max_epochs=1 x 8 global batches "
                         "per epoch ends the run before trainer.max_steps=10000"));
  CHECK_THAT(s, Contains("schedule: CosineAnnealing over 10000 steps"));
  CHECK_THAT(s, Contains("device: cpu, 2 CPU threads, fp32"));
  CHECK_THAT(s, Contains("tensorboard --logdir runs/r1/tensorboard"));
  CHECK_THAT(s, Contains("ignored: exp_manager.create_wandb_logger: Weights & Biases needs a "
                         "network"));
  CHECK_THAT(s, Contains("ignored: model.tensor_model_parallel_size: model parallelism"));
  // Every NeMo key accepted without effect has a reason.
  for (const char* k : {"trainer.logger", "model.tokenizer.library", "model.data.num_workers",
                        "exp_manager.wandb_logger_kwargs.project",
                        "model.activations_checkpoint_method"}) {
    INFO(k);
    CHECK_FALSE(TrainOptions::ignored_key_reason(k).empty());
  }
  CHECK(TrainOptions::ignored_key_reason("model.optim.lr").empty());
}

TEST_CASE("tfevents: CRC32C and a round trip record by record", "[progress][tensorboard]") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);  // the standard check value
  CHECK(crc32c("", 0) == 0u);
  test::TempDir tmp;
  fs::path file;
  {
    TfEventsWriter w(tmp / "tb");
    w.scalars(1, {{"loss", 2.5}, {"lr", 1e-4}});
    w.scalars(2, {{"loss", 1.25}});
    w.scalars(2, {{"val_ndcg@10", 0.75}});
    file = w.file();
  }
  CHECK(file.parent_path() == tmp / "tb");
  CHECK_THAT(file.filename().string(), Contains("events.out.tfevents."));
  const auto records = read_tfrecords(file);
  REQUIRE(records.size() == 4);  // file_version, then one Event per scalars()
  std::string version;
  const auto sc = read_tfevents_scalars(file, &version);
  CHECK(version == "brain.Event:2");
  REQUIRE(sc.size() == 4);
  CHECK((sc[0].step == 1 && sc[0].tag == "loss" && sc[0].value == 2.5f));
  CHECK((sc[1].step == 1 && sc[1].tag == "lr" && sc[1].value == 1e-4f));
  CHECK((sc[2].step == 2 && sc[2].tag == "loss" && sc[2].value == 1.25f));
  CHECK((sc[3].step == 2 && sc[3].tag == "val_ndcg@10" && sc[3].value == 0.75f));
  CHECK(sc[0].wall_time > 1.7e9);

  // Any flipped byte is caught by one of the two CRCs, naming the record.
  std::string bytes = test::slurp(file);
  const size_t second = 12 + records[0].size() + 4;
  bytes[second + 3] ^= 0x01;  // the second record's length
  test::put(tmp / "bad1", bytes);
  CHECK_THAT(test::error_of([&] { read_tfrecords(tmp / "bad1"); }),
             Contains("record 1: length CRC mismatch"));
  bytes = test::slurp(file);
  bytes[second + 12 + 2] ^= 0x40;  // inside its Event
  test::put(tmp / "bad2", bytes);
  CHECK_THAT(test::error_of([&] { read_tfrecords(tmp / "bad2"); }),
             Contains("record 1: data CRC mismatch"));
}

TEST_CASE("sbert-finetune: summary, steps by max_epochs, TensorBoard, a finished run re-run",
          "[progress][finetune][apps]") {
  test::TempDir tmp;
  const fs::path data = test::write_train_records(tmp.path());  // 48 records: <= 6 batches of 8
  test::put(tmp / "ft.yaml",
            "restore_from_path: " + test::fixture_dir("tiny-bert").string() +
                "\ntrainer:\n  max_steps: 10000\n  max_epochs: 1\n  threads: 2\n"
                "  num_sanity_val_steps: 0\n  log_every_n_steps: 2\n"
                "exp_manager:\n  create_wandb_logger: True\n"
                "  explicit_log_dir: " + (tmp / "run").string() +
                "\nmodel:\n  global_batch_size: 8\n  micro_batch_size: 4\n"
                "  encoder_seq_length: 32\n  data:\n    data_train: " + data.string() +
                "\n  optim:\n    sched:\n      warmup_steps: 2\n");
  const std::vector<std::string> args = {"--config-path", tmp.path().string(), "--config-name",
                                         "ft.yaml"};
  const auto r = test::run_app("sbert-finetune", args, {"CI=1"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("sbert-finetune: data: 48 training records"));
  CHECK_THAT(r.stderr_text, Contains("steps: 6 steps to run at most: trainer.max_epochs=1 x 6 "
                                     "global batches per epoch ends the run before "
                                     "trainer.max_steps=10000"));
  CHECK_THAT(r.stderr_text, Contains("ignored: exp_manager.create_wandb_logger: Weights & Biases "
                                     "needs a network"));
  CHECK_THAT(r.stderr_text, Contains("step 1/6 | loss "));
  CHECK(r.stderr_text.find("/10000 |") == std::string::npos);

  // TensorBoard: one event file with loss and lr at every step metrics.jsonl logged.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(tmp / "run" / "tensorboard")) files.push_back(e);
  REQUIRE(files.size() == 1);
  const auto sc = read_tfevents_scalars(files[0]);
  std::map<int64_t, float> loss;
  for (const auto& s : sc)
    if (s.tag == "loss") loss[s.step] = s.value;
  std::istringstream jl(test::slurp(tmp / "run" / "metrics.jsonl"));
  int64_t steps = 0;
  std::string last_loss;
  for (std::string line; std::getline(jl, line);) {
    const size_t at = line.find("\"loss\": ");
    if (at == std::string::npos) continue;
    ++steps;
    last_loss = line.substr(at + 8, line.find(',', at) - at - 8);
    REQUIRE(loss.count(steps));
    CHECK(loss[steps] == Approx(std::stod(last_loss)).epsilon(1e-6));
  }
  REQUIRE(steps >= 5);
  CHECK(loss.size() == static_cast<size_t>(steps));

  // Again, with an override nothing will train with: where the run stands, the real last loss,
  // and config.yaml and the logs untouched.
  const std::string config_before = test::slurp(tmp / "run" / "config.yaml");
  const std::string metrics_before = test::slurp(tmp / "run" / "metrics.jsonl");
  auto again = args;
  again.push_back("model.optim.lr=5e-4");
  const auto r2 = test::run_app("sbert-finetune", again, {"CI=1"});
  INFO(r2.stderr_text);
  REQUIRE(r2.exit_code == 0);
  char expect[160];
  std::snprintf(expect, sizeof expect,
                "already at step %lld, the end of trainer.max_epochs=1 (last loss %.6f)",
                static_cast<long long>(steps), std::stod(last_loss));
  CHECK_THAT(r2.stderr_text, Contains(expect));
  CHECK(r2.stderr_text.find("last loss 0.000000") == std::string::npos);
  CHECK(test::slurp(tmp / "run" / "config.yaml") == config_before);
  CHECK(test::slurp(tmp / "run" / "metrics.jsonl") == metrics_before);

  // A run ended by max_steps says so.
  auto by_steps = args;
  by_steps.insert(by_steps.end(), {"trainer.max_steps=2", "trainer.max_epochs=-1",
                                   "exp_manager.create_tensorboard_logger=false",
                                   "exp_manager.explicit_log_dir=" + (tmp / "run2").string()});
  REQUIRE(test::run_app("sbert-finetune", by_steps, {"CI=1"}).exit_code == 0);
  CHECK_FALSE(fs::exists(tmp / "run2" / "tensorboard"));
  const std::string config2 = test::slurp(tmp / "run2" / "config.yaml");
  auto by_steps_again = by_steps;
  by_steps_again.push_back("model.optim.lr=5e-4");
  const auto r3 = test::run_app("sbert-finetune", by_steps_again, {"CI=1"});
  INFO(r3.stderr_text);
  REQUIRE(r3.exit_code == 0);
  CHECK_THAT(r3.stderr_text, Contains("already at max_steps 2 (last loss "));
  CHECK(r3.stderr_text.find("last loss 0.000000") == std::string::npos);
  CHECK(r3.stderr_text.find("last loss nan") == std::string::npos);
  CHECK(test::slurp(tmp / "run2" / "config.yaml") == config2);
}

TEST_CASE("sbert-embed: progress lines on stderr when it is not a terminal", "[progress][apps]") {
  test::TempDir tmp;
  std::string texts;
  for (int i = 0; i < 40; ++i) texts += "sentence number " + std::to_string(i) + "\n";
  test::put(tmp / "t.txt", texts);
  const auto r = test::run_app("sbert-embed",
                               {"--model", test::fixture_dir("tiny-bert").string(), "--input",
                                (tmp / "t.txt").string(), "--output", (tmp / "e.npy").string(),
                                "--batch-size", "16", "--threads", "1"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("sbert-embed: embed 16/40 (40.0%) "));  // the first batch
  CHECK_THAT(r.stderr_text, Contains("sbert-embed: embed 40/40 (100.0%) "));
  CHECK(r.stderr_text.find('\r') == std::string::npos);
}

TEST_CASE("sbert-convert: its five steps as plain lines", "[progress][apps][convert]") {
  test::TempDir tmp;
  const auto r = test::run_app("sbert-convert", {"--input", test::fixture_dir("tiny-bert").string(),
                                                 "--output", (tmp / "ckpt").string()},
                               {"CI=1"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("sbert-convert: convert 1/5 (20.0%) "));
  CHECK_THAT(r.stderr_text, Contains("sbert-convert: convert 5/5 (100.0%) "));
}
