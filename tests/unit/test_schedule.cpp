// Learning-rate schedules against a transcription of NeMo's lr_scheduler.py driven by torch's
// LRScheduler stepping (fixture from tools/reference/make_train_fixtures.py), the
// constant_steps warning, and construction errors.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "test_loss_fixture.h"
#include "sbert/error.h"
#include "train/schedule.h"

using namespace sbert;
using testfx::Fixture;

namespace {

ScheduleConfig parse_config(const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::padded_string text(json);
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  REQUIRE(!parser.parse(text).get(doc));
  REQUIRE(!doc.get(obj));
  ScheduleConfig cfg;
  for (simdjson::dom::key_value_pair kv : obj) {
    const std::string key(kv.key);
    if (key == "name") {
      std::string_view v;
      REQUIRE(!kv.value.get(v));
      cfg.name = std::string(v);
      continue;
    }
    double d = 0.0;
    if (kv.value.is_int64()) {
      int64_t i = 0;
      REQUIRE(!kv.value.get(i));
      d = static_cast<double>(i);
    } else {
      REQUIRE(!kv.value.get(d));
    }
    if (key == "lr") cfg.lr = d;
    else if (key == "min_lr") cfg.min_lr = d;
    else if (key == "max_steps") cfg.max_steps = static_cast<int64_t>(d);
    else if (key == "warmup_steps") cfg.warmup_steps = static_cast<int64_t>(d);
    else if (key == "warmup_ratio") cfg.warmup_ratio = d;
    else if (key == "constant_steps") cfg.constant_steps = static_cast<int64_t>(d);
    else if (key == "constant_ratio") cfg.constant_ratio = d;
    else FAIL("unknown key " << key);
  }
  return cfg;
}

ScheduleConfig cosine(int64_t max_steps, int64_t warmup, int64_t constant, double lr,
                      double min_lr) {
  ScheduleConfig c;
  c.lr = lr;
  c.min_lr = min_lr;
  c.max_steps = max_steps;
  c.warmup_steps = warmup;
  c.constant_steps = constant;
  return c;
}

}  // namespace

TEST_CASE("schedules match NeMo's lr_scheduler.py step by step", "[schedule]") {
  const Fixture fx("schedule.safetensors");
  for (const std::string& tag : testfx::split_commas(fx.meta("configs"))) {
    INFO("config " << tag << ": " << fx.meta(tag));
    const ScheduleConfig cfg = parse_config(fx.meta(tag));
    const LrSchedule sched(cfg);
    const std::vector<double> ref = fx.f64(tag + ".lr");
    REQUIRE(ref.size() == static_cast<size_t>(cfg.max_steps + 5));
    double worst = 0.0;
    for (size_t s = 0; s < ref.size(); ++s) {
      const double lr = sched.lr_at(static_cast<int64_t>(s));
      const double rel = std::abs(lr - ref[s]) / std::max(ref[s], 1e-30);
      worst = std::max(worst, rel);
      if (rel > 1e-12) {
        INFO("step " << s << ": libsbert " << lr << ", NeMo " << ref[s]);
        CHECK(rel <= 1e-12);
      }
    }
    if (testfx::verbose()) {
      std::printf("[schedule] %-22s %3zu steps, max relative difference %.1e\n", tag.c_str(),
                  ref.size(), worst);
    }
  }
}

TEST_CASE("NeMo's warmup and hold details", "[schedule]") {
  // constant_steps == 0: warmup lr * (step + 1) / (W + 1), peak reached at step W.
  const LrSchedule a(cosine(100, 9, 0, 1e-3, 0.0));
  CHECK(a.lr_at(0) == 1e-3 * (1.0 / 10.0));
  CHECK(a.lr_at(9) == 1e-3);
  CHECK(a.lr_at(100) == 0.0);  // cos(pi) = -1: min_lr at max_steps
  CHECK(a.lr_at(101) == 0.0);
  // constant_steps > 0: Megatron-style warmup lr * step / W (0 at step 0), cosine over
  // D = max - W - C steps, then min_lr held for the last C steps.
  const LrSchedule b(cosine(100, 10, 20, 1e-3, 1e-5));
  CHECK(b.decay_steps() == 70);
  CHECK(b.lr_at(0) == 0.0);
  CHECK(b.lr_at(5) == 1e-3 * 5.0 / 10.0);
  CHECK(b.lr_at(10) == 1e-3);
  CHECK(b.lr_at(45) == Approx(1e-5 + 0.5 * (1e-3 - 1e-5)).epsilon(1e-12));
  CHECK(b.lr_at(80) == 1e-5);
  CHECK(b.lr_at(81) == 1e-5);
  CHECK(b.lr_at(100) == 1e-5);
  // warmup_ratio: int(ratio * max_steps), truncated like Python's int().
  ScheduleConfig r;
  r.lr = 1.0;
  r.max_steps = 57;
  r.warmup_ratio = 0.1;
  CHECK(LrSchedule(r).warmup_steps() == 5);
  // The "linear" and "constant" aliases.
  r.warmup_ratio.reset();
  r.name = "linear";
  r.max_steps = 10;
  CHECK(LrSchedule(r).name() == ScheduleName::WarmupAnnealing);
  CHECK(LrSchedule(r).lr_at(5) == 0.5);
  r.name = "constant";
  CHECK(LrSchedule(r).lr_at(7) == 1.0);
  CHECK(LrSchedule(r).lr_at(11) == 0.0);  // WarmupPolicy: min_lr after max_steps
}

TEST_CASE("schedule_warnings flags constant_steps that leave no decay", "[schedule]") {
  // NeMo's megatron_bert_embedding_config.yaml: warmup 500, constant 50000, on a 1000-step run.
  const ScheduleConfig yaml = cosine(1000, 500, 50000, 2e-4, 2e-5);
  const std::string w = schedule_warnings(yaml);
  INFO(w);
  CHECK_THAT(w, Catch::Contains("warmup_steps (500) + constant_steps (50000) >= trainer.max_steps (1000)"));
  CHECK_THAT(w, Catch::Contains("no cosine decay"));
  CHECK_THAT(w, Catch::Contains("from step 501"));
  const LrSchedule s(yaml);
  CHECK(s.lr_at(500) == 2e-4);
  CHECK(s.lr_at(501) == 2e-5);  // straight from the peak to min_lr
  // The same yaml on its own 100000 steps decays normally: no warning.
  CHECK(schedule_warnings(cosine(100000, 500, 50000, 2e-4, 2e-5)).empty());
  CHECK(schedule_warnings(cosine(100, 10, 0, 1e-3, 0.0)).empty());
  // Exactly warmup + constant == max_steps: no decay either.
  CHECK_FALSE(schedule_warnings(cosine(100, 10, 90, 1e-3, 0.0)).empty());
  // lr == min_lr with constant_steps: NeMo asserts, libsbert warns and holds.
  const ScheduleConfig flat = cosine(100, 10, 20, 1e-4, 1e-4);
  CHECK_THAT(schedule_warnings(flat), Catch::Contains("asserts lr > min_lr"));
  CHECK(LrSchedule(flat).lr_at(50) == 1e-4);
  // warmup 0 and decay 0: NeMo divides 0 by 0 at step 0; libsbert gives min_lr.
  const LrSchedule z(cosine(10, 0, 10, 1e-3, 1e-5));
  CHECK(z.lr_at(0) == 1e-5);
  CHECK(z.lr_at(10) == 1e-5);
}

TEST_CASE("schedule construction errors name the key", "[schedule]") {
  auto err = [](ScheduleConfig c) -> std::string {
    try {
      const LrSchedule s(c);
      (void)s;
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const ScheduleConfig ok = cosine(100, 10, 0, 1e-3, 0.0);
  CHECK(err(ok).empty());
  ScheduleConfig c = ok;
  c.lr = -1e-3;
  CHECK_THAT(err(c), Catch::Contains("[schedule] model.optim.lr must be positive, got -0.001"));
  c = ok;
  c.min_lr = 2e-3;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.min_lr (0.002) is greater than model.optim.lr (0.001)"));
  c = ok;
  c.min_lr = -1.0;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.min_lr must be >= 0"));
  c = ok;
  c.max_steps = 0;
  CHECK_THAT(err(c), Catch::Contains("trainer.max_steps must be positive, got 0"));
  c = ok;
  c.warmup_steps = 200;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.warmup_steps (200) is greater than trainer.max_steps (100)"));
  c = ok;
  c.warmup_steps = -1;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.warmup_steps must be >= 0, got -1"));
  c = ok;
  c.warmup_ratio = 0.1;
  CHECK_THAT(err(c), Catch::Contains("warmup_steps and model.optim.sched.warmup_ratio are both set"));
  c = ok;
  c.warmup_steps.reset();
  c.warmup_ratio = 1.5;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.warmup_ratio must be in [0, 1], got 1.5"));
  // WarmupAnnealing with constant_steps 0 (what the trainer passes when epochs decide the
  // length) is accepted; a non-zero hold is refused for it.
  c = ok;
  c.name = "WarmupAnnealing";
  CHECK(c.constant_steps == std::optional<int64_t>(0));
  CHECK(err(c).empty());
  c.constant_steps = 5;
  CHECK_THAT(err(c), Catch::Contains("are only used by CosineAnnealing"));
  c = ok;
  c.constant_steps = -3;
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.constant_steps must be >= 0, got -3"));
  c = ok;
  c.constant_ratio = 0.5;
  CHECK_THAT(err(c), Catch::Contains("constant_steps and model.optim.sched.constant_ratio are both set"));
  c = ok;
  c.name = "linear";
  c.constant_steps = 5;
  CHECK_THAT(err(c), Catch::Contains("only used by CosineAnnealing (model.optim.sched.name is WarmupAnnealing)"));
  c = ok;
  c.name = "ExponentialLR";
  CHECK_THAT(err(c), Catch::Contains("model.optim.sched.name 'ExponentialLR' is not supported"));
  const LrSchedule s(ok);
  CHECK_THROWS_WITH(s.lr_at(-1), Catch::Contains("[schedule] step must be >= 0, got -1"));
}
