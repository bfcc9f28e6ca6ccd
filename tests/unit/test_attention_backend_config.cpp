// model.attention_backend (ours | cudnn): the key's accepted values, and the trainer's up-front
// refusal of cudnn where cuDNN's fused attention cannot run (fp32, the CPU, builds without
// cuDNN), naming the key.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/train.h"
#include "support/fixtures.h"
#include "support/train_refusal.h"
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

}  // namespace

TEST_CASE("config: model.attention_backend takes ours or cudnn", "[config]") {
  CHECK(parse_train_config(kBase, "t.yaml", {}).model.attention_backend == "ours");
  for (const char* v : {"ours", "cudnn"}) {
    CHECK(parse_train_config(kBase, "t.yaml", {std::string("model.attention_backend=") + v})
              .model.attention_backend == v);
  }
  CHECK_THROWS_WITH(parse_train_config(kBase, "t.yaml", {"model.attention_backend=flash"}),
                    Contains("model.attention_backend") && Contains("must be ours or cudnn"));
}

TEST_CASE("trainer: model.attention_backend cudnn in fp32 on the CPU is refused naming the key",
          "[train]") {
  sbert::test::TempDir tmp;
  TrainOptions o = sbert::test::refusal_options(tmp / "log");
  o.model.attention_backend = "cudnn";
  CHECK_THAT(sbert::test::trainer_error(o),
             Contains("key 'model.attention_backend' is cudnn, which needs "
                      "trainer.precision bf16-mixed on a GPU"));
}
