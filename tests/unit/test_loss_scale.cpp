// 16-mixed's loss scaler (train/loss_scale.h) against NeMo's GradScaler.update with hysteresis
// (nemo/collections/nlp/parts/nlp_overrides.py: an overflow resets the growth tracker and
// halves the scale only once `hysteresis` overflows have come without a finite step between;
// a finite step refills the hysteresis and doubles the scale every growth_interval of them),
// constructor errors, the trainer state that carries it across a resume, and the CPU's refusal.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/train.h"
#include "support/fixtures.h"
#include "support/train_refusal.h"
#include "train/checkpoint.h"
#include "train/loss_scale.h"

using namespace sbert;

TEST_CASE("loss scale: NeMo's hysteresis, backoff and growth, step by step", "[train]") {
  LossScaler s({8.0, 2, 2});
  CHECK(s.scale() == 8.0f);
  CHECK(s.inv_scale() == 0.125f);
  // (finite?, scale after, growth tracker after, hysteresis tracker after)
  struct Step {
    bool finite;
    float scale;
    int64_t growth, hyst;
  };
  const Step seq[] = {
      {false, 8, 0, 1},   // first overflow: hysteresis absorbs it, the scale stays
      {false, 4, 0, 0},   // second in a row: halved
      {false, 2, 0, -1},  // and every further one halves again (the tracker is not refilled)
      {true, 2, 1, 2},    // a finite step refills the hysteresis
      {false, 2, 0, 1},   // one overflow after it: absorbed, the growth count restarts
      {true, 2, 1, 2},
      {true, 4, 0, 2},    // growth_interval (2) finite steps in a row: doubled
      {true, 4, 1, 2},
      {true, 8, 0, 2},
  };
  int i = 0;
  for (const Step& st : seq) {
    INFO("step " << ++i);
    CHECK(s.update(st.finite) == st.finite);
    CHECK(s.scale() == st.scale);
    CHECK(s.state().growth_tracker == st.growth);
    CHECK(s.state().hysteresis_tracker == st.hyst);
  }
}

TEST_CASE("loss scale: hysteresis 1 is torch's GradScaler, growth stops short of inf",
          "[train]") {
  LossScaler s({65536.0, 1, 1});
  s.update(false);
  CHECK(s.scale() == 32768.0f);
  LossScaler big({std::ldexp(1.0, 127), 1, 1});
  big.update(true);  // 2^128 is not an fp32 value: the scale stays
  CHECK(big.scale() == std::ldexp(1.0f, 127));
  CHECK(big.state().growth_tracker == 0);
}

TEST_CASE("loss scale: bad settings name the key", "[train]") {
  CHECK_THROWS_WITH(LossScaler({0.0, 1000, 2}),
                    Catch::Contains("model.native_amp_init_scale must be positive"));
  CHECK_THROWS_WITH(LossScaler({1e39, 1000, 2}),
                    Catch::Contains("model.native_amp_init_scale must be positive and finite in "
                                    "fp32, got 1e+39"));
  CHECK_THROWS_WITH(LossScaler({1.0, 0, 2}),
                    Catch::Contains("model.native_amp_growth_interval must be positive, got 0"));
  CHECK_THROWS_WITH(LossScaler({1.0, 1, 0}),
                    Catch::Contains("model.hysteresis must be positive, got 0"));
}

TEST_CASE("loss scale: the trainer state round-trips the scaler and the skipped steps",
          "[train]") {
  TrainerState s;
  s.step = 7;
  s.seed = 3;
  s.layout_total = 10;
  s.data_position = "{}";
  const std::string plain = to_json(s);
  CHECK(plain.find("loss_scale") == std::string::npos);  // fp32 runs: nothing new written
  CHECK(plain.find("skipped_steps") == std::string::npos);
  s.skipped_steps = 4;
  s.loss_scale = LossScaleState{std::ldexp(1.0f, 17), 3, -1};
  const TrainerState back = trainer_state_from_json(to_json(s), "trainer_state.json");
  CHECK(back.skipped_steps == 4);
  REQUIRE(back.loss_scale);
  CHECK(*back.loss_scale == *s.loss_scale);
  CHECK_FALSE(trainer_state_from_json(plain, "t.json").loss_scale);
  std::string bad = to_json(s);
  bad.replace(bad.find("131072"), 6, "1e+300");
  CHECK_THROWS_WITH(trainer_state_from_json(bad, "t.json"),
                    Catch::Contains("t.json") &&
                        Catch::Contains("'loss_scale.scale' must be a positive fp32 value"));
}

TEST_CASE("loss scale: 16-mixed on the CPU is refused, naming the key", "[train]") {
  sbert::test::TempDir tmp;
  TrainOptions o = sbert::test::refusal_options(tmp / "log");
  o.trainer.precision = Precision::FP16Mixed;
  CHECK_THAT(sbert::test::trainer_error(o),
             Catch::Contains("key 'trainer.precision' is 16-mixed, which needs a GPU "
                             "(trainer.accelerator=gpu); use 32 on the CPU"));
}
