#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "sbert/error.h"
#include "train/config.h"

using namespace sbert;
using Catch::Matchers::Contains;

namespace {

const std::string kBase = R"(
restore_from_path: models/x
trainer:
  max_steps: 100
model:
  micro_batch_size: 4
  global_batch_size: 16
  data:
    data_train: train.jsonl
)";

TrainConfig parse(const std::string& extra, std::vector<std::string> overrides = {}) {
  return parse_train_config(kBase + extra, "test.yaml", overrides);
}

}  // namespace

TEST_CASE("config: defaults, NeMo keys and derived values", "[config]") {
  const TrainConfig c = parse("");
  CHECK(c.model.optim.beta1 == 0.9);
  CHECK(c.model.optim.beta2 == 0.98);
  CHECK(c.model.optim.weight_decay == 0.01);
  CHECK(c.model.softmax_temp == 0.02);
  CHECK(c.accumulation_steps() == 4);
  CHECK(c.model.data.data_train == std::vector<std::string>{"train.jsonl"});
  CHECK(c.log_dir() == std::filesystem::path("nemo_experiments/sbert_finetune"));
}

TEST_CASE("config: the shipped default parses", "[config]") {
  const TrainConfig c = load_train_config(std::string(SBERT_SOURCE_DIR) + "/conf", "sbert_finetune",
                                          {"model.data.data_train=x.jsonl"});
  CHECK(c.model.optim.sched.name == Schedule::CosineAnnealing);
  CHECK(c.trainer.gradient_clip_val == 1.0);
  CHECK(c.warnings.empty());
}

TEST_CASE("config: dotted overrides, lists and interpolation", "[config]") {
  const TrainConfig c = parse("  encoder_seq_length: 128\n",
                              {"model.optim.lr=1e-5", "model.optim.betas=[0.8,0.9]",
                               "model.data.data_validation=[a.jsonl,b.jsonl]",
                               "+model.data.query_seq_length=${model.encoder_seq_length}"});
  CHECK(c.model.optim.lr == 1e-5);
  CHECK(c.model.optim.beta1 == 0.8);
  CHECK(c.model.data.data_validation.size() == 2);
  CHECK(c.model.data.query_seq_length == 128);
}

TEST_CASE("config: NeMo's own config keys are accepted and listed", "[config]") {
  const TrainConfig c = parse(R"(
  mcore_bert: True
  tensor_model_parallel_size: 1
  max_position_embeddings: ${.encoder_seq_length}
  tokenizer:
    library: huggingface
    type: intfloat/e5-large-unsupervised
exp_manager:
  checkpoint_callback_params:
    model_parallel_size: ${multiply:${model.tensor_model_parallel_size}, 1}
)");
  CHECK(std::find(c.ignored_keys.begin(), c.ignored_keys.end(), "model.mcore_bert") !=
        c.ignored_keys.end());
  CHECK(c.ignored_keys.size() == 6);
}

TEST_CASE("config: unknown keys and impossible values name the key", "[config]") {
  CHECK_THROWS_WITH(parse("  optim:\n    lrr: 1\n"),
                    Contains("test.yaml") && Contains("unknown key 'model.optim.lrr'"));
  CHECK_THROWS_WITH(parse("", {"model.optim.lr=-1"}),
                    Contains("'model.optim.lr' must be positive, got -1"));
  CHECK_THROWS_WITH(parse("", {"model.micro_batch_size=32"}),
                    Contains("'model.micro_batch_size' (32) is larger than"));
  CHECK_THROWS_WITH(parse("", {"model.global_batch_size=18"}),
                    Contains("must be a multiple of micro_batch_size"));
  CHECK_THROWS_WITH(parse("", {"model.data.hard_negatives_to_train=-1"}),
                    Contains("'model.data.hard_negatives_to_train' must be >= 0, got -1"));
  CHECK_THROWS_WITH(parse("", {"trainer.max_steps=abc"}),
                    Contains("'trainer.max_steps' must be an integer, got 'abc'"));
  CHECK_THROWS_WITH(parse("", {"model.optim.betas=0.9"}),
                    Contains("'model.optim.betas' must be a list of two numbers"));
  CHECK_THROWS_WITH(parse("", {"trainer.precision=16-true"}),
                    Contains("key 'trainer.precision': 16-true (fp16 weights) is not supported"));
  CHECK_THROWS_WITH(parse("", {"model.hysteresis=0"}),
                    Contains("'model.hysteresis' must be positive, got 0"));
  CHECK_THROWS_WITH(parse("", {"model.native_amp_init_scale=0"}),
                    Contains("'model.native_amp_init_scale' must be positive and finite"));
  CHECK_THROWS_WITH(parse("", {"model.native_amp_growth_interval=-1"}),
                    Contains("'model.native_amp_growth_interval' must be positive"));
  for (const char* p : {"16-mixed", "16", "fp16"}) {
    INFO(p);
    CHECK(parse("", {std::string("trainer.precision=") + p}).trainer.precision ==
          Precision::FP16Mixed);
  }
  const TrainOptions scaled = parse("", {"model.native_amp_init_scale=65536",
                                         "model.native_amp_growth_interval=20",
                                         "model.hysteresis=1"});
  CHECK(scaled.model.native_amp_init_scale == 65536.0);
  CHECK(scaled.model.native_amp_growth_interval == 20);
  CHECK(scaled.model.hysteresis == 1);
  CHECK(parse("", {}).model.native_amp_init_scale == 4294967296.0);
  CHECK_THROWS_WITH(parse("", {"model.optim.sched.min_lr=1"}),
                    Contains("'model.optim.sched.min_lr' must be in [0, model.optim.lr]"));
  CHECK_THROWS_WITH(parse("", {"model.data.query_seq_length=${model.nope}"}),
                    Contains("refers to 'model.nope', which is not set"));
  CHECK_THROWS_WITH(parse_train_config("trainer: [1, 2\n", "bad.yaml"),
                    Contains("bad.yaml: not valid YAML"));
  CHECK_THROWS_WITH(parse_train_config("model:\n  data:\n    data_train: t.jsonl\n", "m.yaml"),
                    Contains("'restore_from_path' must name the model folder"));
  CHECK_THROWS_WITH(load_train_config("/nonexistent-dir", "cfg"),
                    Contains("/nonexistent-dir/cfg.yaml"));
}

TEST_CASE("config: NeMo's constant_steps beyond max_steps warns", "[config]") {
  const TrainConfig c =
      parse("", {"model.optim.sched.warmup_steps=10", "model.optim.sched.constant_steps=50000"});
  REQUIRE(c.warnings.size() == 1);
  CHECK_THAT(c.warnings[0], Contains("no cosine decay"));
}

TEST_CASE("config: the resolved YAML parses back to the same values", "[config]") {
  const TrainConfig a = parse("", {"model.optim.lr=3e-5", "model.seed=7"});
  const TrainConfig b = parse_train_config(to_yaml(a), "resolved.yaml");
  CHECK(b.model.optim.lr == a.model.optim.lr);
  CHECK(b.model.seed == 7);
  CHECK(b.model.global_batch_size == a.model.global_batch_size);
  CHECK(b.model.data.data_train == a.model.data.data_train);
  CHECK(b.model.optim.beta2 == a.model.optim.beta2);
}
