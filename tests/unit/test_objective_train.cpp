// The objectives from the configuration: model.loss and its keys parse and check with one-line
// errors; the trainer runs each objective end to end (against the 10-step reference of
// tests/fixtures/train_run/objectives.safetensors); data without the labels a loss needs is
// refused naming the loss and the file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "api/model_impl.h"
#include "io/safetensors.h"
#include "support/fixtures.h"
#include "train/config.h"
#include "train/objective_setup.h"
#include "train/trainer.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// The 10-step reference run's settings (make_objective_run_fixture.py).
std::string yaml(const fs::path& log_dir, const std::string& model_keys,
                 const std::string& data = "objectives.jsonl", int negatives = 2,
                 const std::string& model = "tiny-bert") {
  return "name: objective_train\n"
         "restore_from_path: \"" +
         test::fixture_dir(model).string() +
         "\"\n"
         "trainer:\n  max_steps: 10\n  val_check_interval: 100\n  num_sanity_val_steps: 0\n"
         "  log_every_n_steps: 100\n  gradient_clip_val: 1.0\n  threads: 2\n"
         "exp_manager:\n  explicit_log_dir: \"" +
         log_dir.string() +
         "\"\n"
         "  resume_if_exists: false\n  create_checkpoint_callback: false\n"
         "model:\n  micro_batch_size: 4\n  global_batch_size: 8\n  encoder_seq_length: 128\n"
         "  hidden_dropout: 0\n  attention_dropout: 0\n" +
         model_keys + "  data:\n    data_train: [\"" +
         (test::fixture_dir("train_run") / data).string() +
         "\"]\n"
         "    hard_negatives_to_train: " +
         std::to_string(negatives) +
         "\n"
         "    add_prefix: false\n    shuffle: false\n    dedupe_in_batch: false\n"
         "  optim:\n    name: adamw\n    lr: 1e-3\n    weight_decay: 0.01\n"
         "    betas: [0.9, 0.98]\n    eps: 1e-8\n"
         "    sched:\n      name: CosineAnnealing\n      warmup_steps: 3\n      min_lr: 1e-5\n";
}

std::vector<double> run_losses(const TrainConfig& cfg) {
  std::vector<double> losses;
  TrainerHooks hooks;
  hooks.after_step = [&](int64_t, double loss) { losses.push_back(loss); };
  train(cfg, hooks);
  return losses;
}

std::vector<double> reference(const std::string& run) {
  const auto f = SafetensorsFile::open(test::fixture_dir("train_run") / "objectives.safetensors");
  const auto b = f.bytes(run + ".losses");
  std::vector<double> v(b.size() / sizeof(double));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

}  // namespace

TEST_CASE("objective keys: parse, write back and refuse bad values with the key",
          "[config][objectives]") {
  test::TempDir tmp;
  const TrainConfig c = parse_train_config(
      yaml(tmp / "run",
           "  loss: matryoshka\n  matryoshka_loss: cosent\n"
           "  matryoshka_dims: [32, 16, 8]\n  matryoshka_weights: [1, 0.5, 0.25]\n"
           "  cosent_scale: 10\n"),
      tmp / "c.yaml");
  CHECK(c.model.loss == LossType::Matryoshka);
  CHECK(c.model.matryoshka_loss == LossType::CoSENT);
  CHECK(c.model.matryoshka_dims == std::vector<int64_t>{32, 16, 8});
  CHECK(c.model.matryoshka_weights == std::vector<double>{1, 0.5, 0.25});
  CHECK(c.model.cosent_scale == 10);
  const std::string written = to_yaml(c);
  CHECK_THAT(written, Contains("matryoshka_dims: [32, 16, 8]"));
  CHECK(parse_train_config(written, tmp / "again.yaml").model.matryoshka_dims ==
        c.model.matryoshka_dims);
  auto bad = [&](const std::string& keys) {
    return parse_train_config(yaml(tmp / "run", keys), tmp / "bad.yaml");
  };
  CHECK_THROWS_WITH(bad("  loss: matryoshka\n"),
                    Contains("key 'model.matryoshka_dims' must list at least one dim"));
  CHECK_THROWS_WITH(bad("  loss: matryoshka\n  matryoshka_dims: [32, 0]\n"),
                    Contains("key 'model.matryoshka_dims' must all be positive, got [32, 0]"));
  CHECK_THROWS_WITH(bad("  loss: matryoshka\n  matryoshka_dims: [32, x]\n"),
                    Contains("key 'model.matryoshka_dims' must be a list of integers"));
  CHECK_THROWS_WITH(bad("  loss: matryoshka\n  matryoshka_dims: [32, 16]\n"
                        "  matryoshka_weights: [1]\n"),
                    Contains("key 'model.matryoshka_weights' has 1 values but "
                             "model.matryoshka_dims has 2"));
  CHECK_THROWS_WITH(bad("  loss: matryoshka\n  matryoshka_loss: matryoshka\n"
                        "  matryoshka_dims: [32]\n"),
                    Contains("key 'model.matryoshka_loss' must name another loss"));
  CHECK_THROWS_WITH(bad("  loss: gist\n"), Contains("key 'model.gist_guide_model' must name"));
  CHECK_THROWS_WITH(bad("  loss: gist\n  gist_guide_model: g\n  gist_margin_strategy: abs\n"),
                    Contains("key 'model.gist_margin_strategy' must be absolute or relative"));
  CHECK_THROWS_WITH(bad("  loss: cosent\n  cosent_scale: 0\n"),
                    Contains("key 'model.cosent_scale' must be positive"));
  CHECK_THROWS_WITH(bad("  loss: simcse\n"),
                    Contains("nemo, mnrl, cosent, angle, gist, marginmse or matryoshka"));
}

TEST_CASE("trainer: each objective from the config matches the sentence-transformers runs",
          "[objectives][train-parity]") {
  // The records' "score" and "margins" come through the data reader.
  struct Run {
    const char* name;
    std::string keys;
    int negatives;
    const char* model;
  };
  const std::string guide = test::fixture_dir("tiny-bert-cls").string();
  const std::string xlmr = test::fixture_dir("tiny-xlmr").string();
  const Run runs[] = {
      {"cosent", "  loss: cosent\n", 0, "tiny-bert"},
      {"angle", "  loss: angle\n  angle_scale: 20\n", 0, "tiny-bert"},
      {"marginmse", "  loss: marginmse\n", 2, "tiny-bert"},
      {"marginmse_cls", "  loss: marginmse\n", 2, "tiny-bert-cls"},
      {"gist", "  loss: gist\n  gist_guide_model: \"" + guide + "\"\n", 1, "tiny-bert"},
      // another vocabulary: the guide re-tokenizes the decoded text
      {"gist_retok", "  loss: gist\n  gist_guide_model: \"" + xlmr + "\"\n", 1, "tiny-bert"},
      {"matryoshka_mnrl",
       "  loss: matryoshka\n  matryoshka_loss: mnrl\n"
       "  matryoshka_dims: [32, 16, 8]\n",
       2, "tiny-bert"},
      // hard_negatives_to_train 2 in the config: cosent takes it as 0
      {"matryoshka_cosent",
       "  loss: matryoshka\n  matryoshka_loss: cosent\n"
       "  matryoshka_dims: [32, 16, 8]\n"
       "  matryoshka_weights: [1, 0.5, 0.25]\n",
       2, "tiny-bert"},
  };
  for (const Run& r : runs) {
    test::TempDir tmp;
    const auto losses = run_losses(parse_train_config(
        yaml(tmp / "run", r.keys, "objectives.jsonl", r.negatives, r.model), tmp / "c.yaml"));
    const auto ref = reference(r.name);
    REQUIRE(losses.size() == ref.size());
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(losses[i] - ref[i]));
    std::printf(
        "objective-train %-16s sbert trainer vs sentence-transformers, 10 steps: max "
        "|loss diff| %.3g\n",
        r.name, worst);
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("trainer: data without the labels of the loss is refused naming loss and file",
          "[objectives]") {
  test::TempDir tmp;
  // tests/fixtures/train_run/train.jsonl: NeMo records, no score, no margins
  CHECK_THROWS_WITH(
      train(parse_train_config(yaml(tmp / "a", "  loss: cosent\n", "train.jsonl"), tmp / "a.yaml"),
            {}),
      Contains("[loss] cosent needs a score on every record") && Contains("train.jsonl"));
  CHECK_THROWS_WITH(
      train(
          parse_train_config(yaml(tmp / "b", "  loss: marginmse\n", "train.jsonl"), tmp / "b.yaml"),
          {}),
      Contains("[loss] marginmse needs a teacher margin per negative") && Contains("train.jsonl"));
  CHECK_THROWS_WITH(
      train(parse_train_config(yaml(tmp / "c", "  loss: marginmse\n", "train.jsonl", 0),
                               tmp / "c.yaml"),
            {}),
      Contains("model.data.hard_negatives_to_train > 0"));
}

TEST_CASE("matryoshka_n_dims_per_step draws that many dims per step from seed and step",
          "[objectives]") {
  ObjectiveConfig c;
  c.matryoshka_dims = {384, 256, 128, 64};
  c.matryoshka_n_dims_per_step = 2;
  std::set<std::string> seen;  // the patterns drawn, as "1010"
  for (uint64_t step = 0; step < 20; ++step) {
    draw_matryoshka_dims(c, 1234, step);
    REQUIRE(c.matryoshka_active.size() == 4);
    int on = 0;
    for (uint8_t a : c.matryoshka_active) on += a;
    CHECK(on == 2);
    ObjectiveConfig again = c;
    draw_matryoshka_dims(again, 1234, step);
    CHECK(again.matryoshka_active == c.matryoshka_active);  // a resumed run draws the same
    std::string pattern;
    for (uint8_t a : c.matryoshka_active) pattern += a ? '1' : '0';
    seen.insert(pattern);
  }
  CHECK(seen.size() >= 3);  // it varies over steps
  c.matryoshka_n_dims_per_step = -1;
  draw_matryoshka_dims(c, 1234, 0);
  CHECK(c.matryoshka_active.empty());  // every dim
  c.matryoshka_n_dims_per_step = 4;
  draw_matryoshka_dims(c, 1234, 0);
  CHECK(c.matryoshka_active.empty());
}

TEST_CASE("gist re-tokenizes as sentence-transformers' must_retokenize decides", "[objectives]") {
  const Model bert = Model::load(test::fixture_dir("tiny-bert"));
  const Model cls = Model::load(test::fixture_dir("tiny-bert-cls"));  // same vocabulary
  const Model xlmr = Model::load(test::fixture_dir("tiny-xlmr"));     // another one
  REQUIRE(cls.impl().config.max_seq_length == 128);
  CHECK_FALSE(guide_must_retokenize(bert, cls, 128));
  CHECK(guide_must_retokenize(bert, cls, 129));  // the guide's max_seq_length is shorter
  CHECK(guide_must_retokenize(bert, xlmr, 128));
  CHECK(guide_must_retokenize(xlmr, bert, 16));
}
