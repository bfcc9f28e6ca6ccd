// The public Trainer driven step by step, as docs/api.md describes it: a `while (auto s =
// trainer.step())` loop runs exactly max_steps steps and equals fit() on the same options.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbert/train.h"
#include "support/fixtures.h"

namespace {

std::vector<sbert::TrainExample> examples() {
  std::vector<sbert::TrainExample> ex;
  for (int i = 0; i < 16; ++i) {
    const std::string n = std::to_string(i);
    ex.push_back({"the query number " + n, "a passage about topic " + n, {"an unrelated text " + n}});
  }
  return ex;
}

sbert::TrainOptions options(const std::filesystem::path& log_dir) {
  sbert::TrainOptions opt;
  opt.restore_from_path = sbert::test::fixture_dir("tiny-bert").string();
  opt.exp_manager.explicit_log_dir = log_dir.string();
  opt.trainer.max_steps = 3;
  opt.trainer.threads = 1;
  opt.model.global_batch_size = 4;
  opt.model.micro_batch_size = 4;
  opt.model.data.hard_negatives_to_train = 1;
  return opt;
}

}  // namespace

TEST_CASE("Trainer::step() returns nullopt after max_steps - the loop equals fit()", "[api]") {
  sbert::test::TempDir tmp;
  sbert::Trainer t(options(tmp / "loop"), sbert::TrainData::from_examples(examples()));
  CHECK_FALSE(t.resume());
  std::vector<double> losses;
  while (auto s = t.step()) losses.push_back(s->loss);
  CHECK(losses.size() == 3);
  CHECK(t.steps_done() == 3);
  CHECK_FALSE(t.step().has_value());  // still the end, no step taken
  CHECK(t.steps_done() == 3);

  const sbert::TrainResult r =
      sbert::fit(options(tmp / "fit"), sbert::TrainData::from_examples(examples()), {});
  CHECK(r.steps == 3);
  CHECK(r.last_loss == losses.back());  // bitwise: the same steps on the same data
}
