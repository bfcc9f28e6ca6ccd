// The config as a person meets it (issue 18): paths relative to the config file, where each value
// came from (in errors and in --dry-run), Lightning's fractional val_check_interval, the
// generated reference (conf/reference.yaml), the starter config that runs as shipped.
#include <catch2/catch.hpp>

#include "sbert/error.h"
#include "sbert/train.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
namespace test = sbert::test;
using Catch::Contains;
using sbert::TrainOptions;

namespace {

const std::string kBase =
    "restore_from_path: m\nmodel:\n  data:\n    data_train: t.jsonl\n"
    "trainer:\n  max_steps: 100\n";

}  // namespace

TEST_CASE("config: relative input paths in a file resolve against its folder, overrides against "
          "the current one",
          "[config][ux]") {
  test::TempDir tmp;
  const fs::path dir = tmp / "conf";
  test::put(dir / "c.yaml",
            "restore_from_path: ../models/m\nmodel:\n  data:\n    data_train: [a.jsonl, /abs/b.jsonl]\n"
            "    data_validation: v.jsonl\n    validation_beir:\n      path: ../beir\n"
            "exp_manager:\n  explicit_log_dir: runs/x\n");
  const TrainOptions o = TrainOptions::from_nemo_yaml(dir, "c");
  CHECK(o.restore_from_path == (tmp / "models/m").string());
  REQUIRE(o.model.data.data_train.size() == 2);
  CHECK(o.model.data.data_train[0] == (dir / "a.jsonl").string());
  CHECK(o.model.data.data_train[1] == "/abs/b.jsonl");  // absolute: itself
  CHECK(o.model.data.data_validation.at(0) == (dir / "v.jsonl").string());
  CHECK(o.model.data.validation_beir.path == (tmp / "beir").string());
  CHECK(o.exp_manager.explicit_log_dir == "runs/x");  // outputs: the current folder

  const TrainOptions ov =
      TrainOptions::from_nemo_yaml(dir, "c", {"restore_from_path=here/m", "model.data.data_train=t"});
  CHECK(ov.restore_from_path == "here/m");
  CHECK(ov.model.data.data_train == std::vector<std::string>{"t"});
  CHECK(ov.origins.at("restore_from_path") == "command-line override 'restore_from_path=here/m'");
}

TEST_CASE("config: errors name where a bad value came from: file:line, override or default",
          "[config][ux]") {
  // Set in the file.
  CHECK_THROWS_WITH(TrainOptions::from_nemo_yaml_text(kBase + "  log_every_n_steps: 0\n", "a.yaml"),
                    Contains("a.yaml:7: key 'trainer.log_every_n_steps' must be positive"));
  // Given on the command line: the override, not the file.
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.log_every_n_steps=0"}),
      Contains("command-line override 'trainer.log_every_n_steps=0': key "
               "'trainer.log_every_n_steps' must be positive"));
  // From the defaults: micro_batch_size 4 (default) > global_batch_size 2 (file).
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase + "model:\n  global_batch_size: 2\n", "a.yaml"),
      Contains("default (not set in a.yaml): key 'model.micro_batch_size' (4) is larger") &&
          Contains("(model.global_batch_size: a.yaml:8)"));
  // Warmup from the file, max_steps from an override: both named.
  const std::string msg = test::error_of([&] {
    TrainOptions::from_nemo_yaml_text(
        kBase + "model:\n  optim:\n    sched:\n      warmup_steps: 50\n", "a.yaml",
        {"trainer.max_steps=10"});
  });
  CHECK_THAT(msg, Contains("warmup_steps (50) is greater than trainer.max_steps (10)"));
  CHECK_THAT(msg, Contains("model.optim.sched.warmup_steps: a.yaml:"));
  CHECK_THAT(msg, Contains("trainer.max_steps: command-line override 'trainer.max_steps=10'"));
  // A section given whole on the command line: its leaves come from that override.
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"model.optim={lr: -1}"}),
      Contains("command-line override 'model.optim={lr: -1}': key 'model.optim.lr' must be "
               "positive"));
  // An unknown key on the command line: the override, and the closest key.
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"model.optim.lrr=1"}),
      Contains("did you mean 'model.optim.lr'?"));
}

TEST_CASE("config: trainer.val_check_interval is steps as an integer, a fraction of an epoch as a "
          "number from 0 to 1",
          "[config][ux]") {
  const TrainOptions steps =
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=7"});
  CHECK(steps.trainer.val_check_interval == 7);
  CHECK(steps.val_check_steps(40) == 7);

  const TrainOptions quarter =
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=0.25"});
  CHECK(quarter.trainer.val_check_fraction == 0.25);
  CHECK(quarter.val_check_steps(40) == 10);
  CHECK(quarter.val_check_steps(2) == 1);  // at least one step
  CHECK(quarter.val_check_steps(1) == 1);
  // Written back with its decimal point ("1" would read back as one step).
  const TrainOptions epoch =
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=1.0"});
  CHECK_THAT(epoch.to_yaml(), Contains("val_check_interval: 1.0"));
  const TrainOptions back = TrainOptions::from_nemo_yaml_text(epoch.to_yaml(), "b.yaml");
  CHECK(back.trainer.val_check_fraction == 1.0);
  CHECK(back.val_check_steps(9) == 9);

  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=1.5"}),
      Contains("a fraction of an epoch in (0, 1], got 1.5"));
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=0"}),
      Contains("key 'trainer.val_check_interval' must be positive"));
  CHECK_THROWS_WITH(
      TrainOptions::from_nemo_yaml_text(kBase, "a.yaml", {"trainer.val_check_interval=often"}),
      Contains("must be an integer or a fraction, got 'often'"));
}

TEST_CASE("config: describe() gives every key's value and origin", "[config][ux]") {
  const TrainOptions o = TrainOptions::from_nemo_yaml_text(
      kBase + "model:\n  optim:\n    lr: 3e-5\n", "a.yaml", {"trainer.threads=3"});
  const std::string d = o.describe();
  CHECK_THAT(d, Contains("# resolved configuration of a.yaml"));
  CHECK_THAT(d, Contains("model.optim.lr: 3e-05"));
  CHECK_THAT(d, Contains("# a.yaml:9"));
  CHECK_THAT(d, Contains("# command-line override 'trainer.threads=3'"));
  CHECK_THAT(d, Contains("trainer.dist_timeout_sec: 600"));
  CHECK_THAT(d, Contains("# default"));
}

TEST_CASE("config: conf/reference.yaml is what the key table generates, and reads back to the "
          "defaults",
          "[config][ux]") {
  const fs::path ref = test::source_dir() / "conf" / "reference.yaml";
  INFO("a key changed? regenerate: build/bin/sbert-finetune --reference > conf/reference.yaml");
  CHECK(test::slurp(ref) == TrainOptions::reference_yaml());
  // Every key in it is a key, and its values are the defaults.
  const TrainOptions o = TrainOptions::from_nemo_yaml_text(
      TrainOptions::reference_yaml(), "reference.yaml",
      {"restore_from_path=m", "model.data.data_train=t.jsonl"});
  const TrainOptions d;
  CHECK(o.ignored_keys.empty());
  CHECK(o.trainer.max_steps == d.trainer.max_steps);
  CHECK(o.model.optim.lr == d.model.optim.lr);
  CHECK(o.model.data.query_prefix == d.model.data.query_prefix);
  CHECK(o.model.optim.beta2 == d.model.optim.beta2);
  CHECK(o.exp_manager.checkpoint.monitor == d.exp_manager.checkpoint.monitor);
  CHECK(o.model.data.validation_beir.batch_size == d.model.data.validation_beir.batch_size);
}

TEST_CASE("config: the shipped configs read, with consistent schedules, from any current folder",
          "[config][ux]") {
  const fs::path conf = test::source_dir() / "conf";
  for (const char* name : {"sbert_finetune", "demo", "scifact"}) {
    INFO(name);
    const TrainOptions o = TrainOptions::from_nemo_yaml(conf, name);
    CHECK(fs::path(o.restore_from_path) == (test::source_dir() / "models/all-MiniLM-L6-v2"));
    CHECK(o.model.optim.sched.warmup_steps <= 12);
  }
  const TrainOptions s = TrainOptions::from_nemo_yaml(conf, "sbert_finetune");
  CHECK(fs::exists(s.model.data.data_train.at(0)));
  CHECK(fs::exists(fs::path(s.model.data.validation_beir.path) / "corpus.jsonl"));
}

TEST_CASE("sbert-finetune --dry-run prints the resolved config and trains nothing - --reference "
          "prints conf/reference.yaml",
          "[apps][config][ux]") {
  test::TempDir tmp;
  const fs::path conf = test::source_dir() / "conf";
  const auto r = test::run_app(
      "sbert-finetune", {"--config-path", conf.string(), "--config-name", "sbert_finetune",
                         "--dry-run", "exp_manager.explicit_log_dir=" + (tmp / "run").string(),
                         "model.optim.lr=1e-5"});
  INFO(r.stderr_text);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.stdout_text, Contains("model.optim.lr: 1e-05"));
  CHECK_THAT(r.stdout_text, Contains("command-line override 'model.optim.lr=1e-5'"));
  CHECK_THAT(r.stdout_text, Contains("sbert_finetune.yaml:"));
  CHECK_THAT(r.stdout_text, Contains("# default"));
  CHECK(!fs::exists(tmp / "run"));

  const auto ref = test::run_app("sbert-finetune", {"--reference"});
  CHECK(ref.exit_code == 0);
  CHECK(ref.stdout_text == test::slurp(conf / "reference.yaml"));

  const auto bad = test::run_app(
      "sbert-finetune", {"--config-path", conf.string(), "--config-name", "sbert_finetune",
                         "--dry-run", "model.optim.sched.warmup_stepz=3"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.stderr_text, Contains("command-line override 'model.optim.sched.warmup_stepz=3'"));
  CHECK_THAT(bad.stderr_text, Contains("did you mean 'model.optim.sched.warmup_steps'?"));
}

TEST_CASE("sbert-finetune: a fractional val_check_interval validates within each epoch",
          "[apps][config][ux]") {
  test::TempDir tmp;
  // 16 records, 8 per step: 2 steps per epoch; 0.5 of an epoch: every step.
  const auto r = test::run_app(
      "sbert-finetune",
      {"--config-path", (test::source_dir() / "conf").string(), "--config-name", "sbert_finetune",
       "restore_from_path=" + test::fixture_dir("tiny-bert").string(), "trainer.max_epochs=1",
       "trainer.val_check_interval=0.5", "trainer.threads=2", "trainer.num_sanity_val_steps=0",
       "exp_manager.explicit_log_dir=" + (tmp / "run").string()});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  const std::string metrics = test::slurp(tmp / "run" / "metrics.jsonl");
  size_t validations = 0;
  for (size_t at = metrics.find("\"validation\": true"); at != std::string::npos;
       at = metrics.find("\"validation\": true", at + 1))
    ++validations;
  CHECK(validations == 2);
}
