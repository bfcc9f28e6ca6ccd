// sbert-finetune's STS validation (model.data.validation_sts): val_spearman / val_pearson on
// scored pairs at every validation, as sentence-transformers' EmbeddingSimilarityEvaluator and
// sbert-eval --sts compute them, in metrics.jsonl and TensorBoard, and usable as the checkpoint
// monitor.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <sstream>

#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

fs::path sts_sample() { return test::fixture_dir("eval") / "stsb-dev-sample.tsv"; }

// tiny-bert, 12 steps on the fixture records, validation every 4 steps.
fs::path write_config(const fs::path& dir) {
  const fs::path data = test::write_train_records(dir);
  test::put(dir / "ft.yaml",
            "restore_from_path: " + test::fixture_dir("tiny-bert").string() + "\n" +
                "trainer:\n  max_steps: 12\n  threads: 2\n  val_check_interval: 4\n"
                "  num_sanity_val_steps: 1\n"
                "exp_manager:\n  create_tensorboard_logger: true\n"
                "  checkpoint_callback_params:\n    every_n_train_steps: 0\n"
                "model:\n  global_batch_size: 8\n  micro_batch_size: 4\n"
                "  encoder_seq_length: 64\n"
                "  data:\n    data_train: " +
                data.string() +
                "\n    hard_negatives_to_train: 2\n"
                "  optim:\n    lr: 5e-3\n");
  return dir / "ft.yaml";
}

test::AppResult finetune(const fs::path& config, const fs::path& log_dir,
                         const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--config-path", config.parent_path().string(), "--config-name",
                                   config.filename().string(),
                                   "exp_manager.explicit_log_dir=" + log_dir.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return test::run_app("sbert-finetune", args);
}

// Validation entries of metrics.jsonl: step -> the value of `key`.
std::map<int64_t, double> validation_values(const fs::path& log_dir, const std::string& key) {
  std::map<int64_t, double> out;
  std::istringstream in(test::slurp(log_dir / "metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"validation\": true") == std::string::npos) continue;
    const size_t at = line.find("\"" + key + "\": ");
    REQUIRE(at != std::string::npos);
    out[std::stoll(line.substr(9))] = std::stod(line.substr(at + key.size() + 4));
  }
  return out;
}

double json_number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  REQUIRE(at != std::string::npos);
  return std::stod(json.substr(at + key.size() + 4));
}

}  // namespace

TEST_CASE("sbert-finetune: STS validation logs val_spearman and keeps the best checkpoint",
          "[finetune][sts-validation]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path());
  const auto r = finetune(config, tmp / "run",
                          {"model.data.validation_sts.path=" + sts_sample().string(),
                           "exp_manager.checkpoint_callback_params.monitor=val_spearman",
                           "exp_manager.checkpoint_callback_params.mode=max",
                           "exp_manager.checkpoint_callback_params.save_top_k=1",
                           "exp_manager.checkpoint_callback_params.save_last=false"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("STS validation 40 pairs"));
  const auto spearman = validation_values(tmp / "run", "val_spearman");
  const auto pearson = validation_values(tmp / "run", "val_pearson");
  // The base model at step 0, then every 4 steps.
  REQUIRE(spearman.size() == 4);
  CHECK(spearman.begin()->first == 0);
  CHECK(spearman.rbegin()->first == 12);
  CHECK(pearson.size() == 4);
  // Step 0 is the base model: sbert-eval --sts gives the same numbers.
  const auto base = test::run_app(
      "sbert-eval", {"--model", test::fixture_dir("tiny-bert").string(), "--sts",
                     sts_sample().string(), "--output", (tmp / "base.json").string()});
  REQUIRE(base.exit_code == 0);
  const std::string base_json = test::slurp(tmp / "base.json");
  CHECK(spearman.at(0) == Approx(json_number(base_json, "spearman")).margin(1e-9));
  CHECK(pearson.at(0) == Approx(json_number(base_json, "pearson")).margin(1e-9));
  // The training moved the correlation: the validations are not all the same number.
  CHECK((spearman.at(4) != spearman.at(0) || spearman.at(12) != spearman.at(0)));
  // save_top_k=1 by val_spearman (max): the best of steps 4, 8, 12 is kept and named best.
  int64_t best_step = 4;
  for (const auto& [step, v] : spearman)
    if (step > 0 && v > spearman.at(best_step)) best_step = step;
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(best_step));
  const fs::path best = tmp / "run/checkpoints" / name;
  REQUIRE(fs::exists(best / "model.safetensors"));
  CHECK(test::slurp(tmp / "run/checkpoints/best") == std::string(name) + "\n");
  CHECK(json_number(test::slurp(best / "trainer_state.json"), "monitor") ==
        Approx(spearman.at(best_step)).margin(1e-12));
  // The checkpoint evaluates to what was logged for its step.
  const auto again =
      test::run_app("sbert-eval", {"--model", best.string(), "--sts", sts_sample().string(),
                                   "--output", (tmp / "best.json").string()});
  REQUIRE(again.exit_code == 0);
  CHECK(spearman.at(best_step) ==
        Approx(json_number(test::slurp(tmp / "best.json"), "spearman")).margin(1e-9));
  // TensorBoard gets the same scalars (the tag is stored verbatim in the event records).
  bool tagged = false;
  for (const auto& e : fs::directory_iterator(tmp / "run/tensorboard"))
    tagged = tagged || test::slurp(e.path()).find("val_spearman") != std::string::npos;
  CHECK(tagged);
}

TEST_CASE("sbert-finetune: STS validation configuration errors name the key",
          "[finetune][sts-validation]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path());
  SECTION("monitoring val_spearman without an STS file") {
    const auto r = finetune(config, tmp / "run",
                            {"exp_manager.checkpoint_callback_params.monitor=val_spearman",
                             "exp_manager.checkpoint_callback_params.mode=max"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("names an STS metric but model.data.validation_sts.path "
                                       "is not set"));
  }
  SECTION("an STS metric with mode min") {
    const auto r = finetune(config, tmp / "run",
                            {"model.data.validation_sts.path=" + sts_sample().string(),
                             "exp_manager.checkpoint_callback_params.monitor=val_pearson"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("checkpoint_callback_params.mode") &&
                                  Contains("must be max when monitoring val_pearson"));
  }
  SECTION("a missing or bad STS file names the file before training starts") {
    const auto r = finetune(config, tmp / "run",
                            {"model.data.validation_sts.path=" + (tmp / "nowhere.tsv").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("nowhere.tsv"));
    CHECK_FALSE(fs::exists(tmp / "run/checkpoints"));
    test::put(tmp / "bad.tsv", "sentence1\tsentence2\tscore\na\tb\t1\nc\td\tx\n");
    const auto b = finetune(config, tmp / "run2",
                            {"model.data.validation_sts.path=" + (tmp / "bad.tsv").string()});
    CHECK(b.exit_code == 1);
    CHECK_THAT(b.stderr_text, Contains("bad.tsv:3: score \"x\" (column 3) is not a number"));
    CHECK_FALSE(fs::exists(tmp / "run2/checkpoints"));
  }
}
