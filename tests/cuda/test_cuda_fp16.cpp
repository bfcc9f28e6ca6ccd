// [cuda] trainer.precision 16-mixed on tiny-bert: fp16 GEMM operands with NeMo's dynamic loss
// scaling (train/loss_scale.h). A run with a safe scale tracks fp32; a huge initial scale
// overflows, skips steps (weights, AdamW and the schedule untouched) and backs off until the
// gradients are finite, then trains; a kill-and-resume replays the scale, the skips and the
// losses bit for bit. On tiny-bert the gradients overflow fp16 from a scale of about 2^18.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "finetune_util.h"
#include "sbert/train.h"
#include "support/fixtures.h"

namespace sbert::test {

namespace {

TrainOptions options(const std::filesystem::path& log_dir, int64_t steps,
                     Precision p = Precision::FP16Mixed) {
  TrainOptions opt = finetune_options(log_dir, Accelerator::GPU, steps);
  opt.model.optim.sched.warmup_steps = 2;  // the LR moves every step: a skipped step shows
  opt.trainer.precision = p;
  return opt;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

const std::vector<std::string> kProbe = {"the query number 3", "a passage about topic 5",
                                         "an unrelated text 7"};

// NeMo's GradScaler.update (nlp_overrides.py), written out again: the scale after a step.
struct NemoScaler {
  double scale;
  int64_t growth_interval, hysteresis, growth = 0, hyst;
  NemoScaler(double s, int64_t gi, int64_t h)
      : scale(s), growth_interval(gi), hysteresis(h), hyst(h) {}
  void update(bool found_inf) {
    if (found_inf) {
      growth = 0;
      if (--hyst <= 0) scale *= 0.5;
    } else {
      hyst = hysteresis;
      if (++growth == growth_interval) {
        scale *= 2;
        growth = 0;
      }
    }
  }
};

}  // namespace

TEST_CASE("cuda fine-tune: 16-mixed stays within 5% of fp32's losses", "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  TrainOptions o16 = options(tmp / "fp16", 3);
  o16.model.native_amp_init_scale = 4096;  // far from overflow: no step skipped
  Trainer f32(options(tmp / "fp32", 3, Precision::FP32),
              TrainData::from_examples(finetune_examples(8)));
  Trainer h16(o16, TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun a = run_steps(f32), b = run_steps(h16);
  REQUIRE(a.loss.size() == 3);
  REQUIRE(b.loss.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("step " << i + 1 << ": loss fp32 " << a.loss[i] << " 16-mixed " << b.loss[i]
                 << ", grad norm fp32 " << a.grad_norm[i] << " 16-mixed " << b.grad_norm[i]);
    CHECK(std::fabs(b.loss[i] - a.loss[i]) <= 0.05 * std::fabs(a.loss[i]));
    CHECK(std::fabs(b.grad_norm[i] - a.grad_norm[i]) <= 0.05 * a.grad_norm[i]);
    CHECK(b.lr[i] == a.lr[i]);
    CHECK(b.scale[i] == 4096.0);
    CHECK(a.scale[i] == 0.0);
  }
  CHECK(b.loss[2] != a.loss[2]);  // the fp16 GEMMs really ran
  const Embeddings ea = f32.model().embed(kProbe), eb = h16.model().embed(kProbe);
  for (int64_t r = 0; r < ea.rows; ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t k = 0; k < ea.dim; ++k) {
      const double x = ea.row(r)[k], y = eb.row(r)[k];
      dot += x * y, na += x * x, nb += y * y;
    }
    INFO("row " << r << ": cosine " << dot / std::sqrt(na * nb));
    CHECK(dot / std::sqrt(na * nb) >= 0.999);
  }
}

TEST_CASE("cuda fine-tune: 16-mixed with a huge loss scale skips steps, backs off, then trains",
          "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  const int64_t n = 12;
  TrainOptions o = options(tmp / "fp16", n);
  o.model.native_amp_init_scale = std::ldexp(1.0, 24);  // 2^24: 64x past overflow
  o.model.native_amp_growth_interval = 3;
  o.model.hysteresis = 2;
  const Embeddings before = Model::load(fixture_dir("tiny-bert")).embed(kProbe);
  {  // Two overflowing steps change no weight.
    TrainOptions o2 = o;
    o2.exp_manager.explicit_log_dir = (tmp / "two").string();
    o2.trainer.max_steps = 2;
    Trainer two(o2, TrainData::from_examples(finetune_examples(8)));
    const FinetuneRun r = run_steps(two);
    REQUIRE(r.loss.size() == 2);
    CHECK((std::isnan(r.grad_norm[0]) || std::isinf(r.grad_norm[0])));
    CHECK((std::isnan(r.grad_norm[1]) || std::isinf(r.grad_norm[1])));
    CHECK(two.model().embed(kProbe).data == before.data);
  }
  Trainer t(o, TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun r = run_steps(t);
  REQUIRE(r.loss.size() == static_cast<size_t>(n));
  // The schedule step by step, from an fp32 run on the CPU (the LR does not depend on either).
  TrainOptions oref = options(tmp / "ref", n, Precision::FP32);
  oref.trainer.accelerator = Accelerator::CPU;
  Trainer ref(oref, TrainData::from_examples(finetune_examples(8)));
  const std::vector<double> lr_ref = run_steps(ref).lr;
  REQUIRE(lr_ref.size() == static_cast<size_t>(n));
  NemoScaler nemo(std::ldexp(1.0, 24), 3, 2);
  int64_t taken = 0, first_finite = -1;
  for (int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<size_t>(i);
    const bool finite = std::isfinite(r.grad_norm[u]);
    INFO("step " << i + 1 << ": scale 2^" << std::log2(r.scale[u]) << ", grad norm "
                 << r.grad_norm[u] << ", lr " << r.lr[u]);
    CHECK(r.scale[u] == nemo.scale);                       // the scale this step's backward used
    CHECK(r.lr[u] == lr_ref[static_cast<size_t>(taken)]);  // skipped steps froze the schedule
    if (finite && first_finite < 0) first_finite = i;
    if (r.scale[u] >= std::ldexp(1.0, 22)) CHECK_FALSE(finite);  // 2^22 and up: always overflow
    if (r.scale[u] <= std::ldexp(1.0, 12)) CHECK(finite);        // 2^12 and down: never
    nemo.update(!finite);
    taken += finite ? 1 : 0;
  }
  // 2^24 twice (hysteresis 2), then 2^23, 2^22, ...: training started, and went on.
  CHECK(r.scale[0] == std::ldexp(1.0, 24));
  CHECK(r.scale[1] == std::ldexp(1.0, 24));
  CHECK(r.scale[2] == std::ldexp(1.0, 23));
  REQUIRE(first_finite > 0);
  CHECK(taken >= 3);
  CHECK(t.model().embed(kProbe).data != before.data);
  // metrics.jsonl logs the scale of every step.
  std::ifstream log(tmp / "fp16" / "metrics.jsonl");
  int64_t lines = 0;
  for (std::string line; std::getline(log, line);) {
    lines += line.find("\"loss_scale\": ") != std::string::npos ? 1 : 0;
  }
  CHECK(lines == n);
}

TEST_CASE(
    "cuda fine-tune: kill and resume on 16-mixed replays the scale and the losses bit for "
    "bit",
    "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  const auto opts = [&](const char* name) {
    TrainOptions o = options(tmp / name, 6);
    o.model.native_amp_init_scale = std::ldexp(1.0, 20);
    o.model.native_amp_growth_interval = 2;
    o.model.hysteresis = 2;
    return o;
  };
  Trainer whole(opts("whole"), TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun w = run_steps(whole);
  REQUIRE(w.loss.size() == 6);
  {
    Trainer first(opts("cut"), TrainData::from_examples(finetune_examples(8)));
    for (int i = 0; i < 3; ++i) REQUIRE(first.step().has_value());
    first.save_checkpoint();
  }  // the process "dies" after step 3's checkpoint, in the middle of backing off
  Trainer again(opts("cut"), TrainData::from_examples(finetune_examples(8)));
  REQUIRE(again.resume());
  CHECK(again.steps_done() == 3);
  const FinetuneRun r = run_steps(again);
  REQUIRE(r.loss.size() == 3);
  bool skipped = false, taken = false;
  for (size_t i = 0; i < 3; ++i) {
    INFO("step " << i + 4 << ": scale " << w.scale[i + 3] << " / " << r.scale[i]);
    CHECK(same_bits(r.loss[i], w.loss[i + 3]));
    CHECK(same_bits(r.grad_norm[i], w.grad_norm[i + 3]));
    CHECK(r.lr[i] == w.lr[i + 3]);
    CHECK(r.scale[i] == w.scale[i + 3]);
  }
  for (size_t i = 0; i < 6; ++i) {
    (std::isfinite(w.grad_norm[i]) ? taken : skipped) = true;
  }
  CHECK(skipped);  // the cut fell where the scaler's state mattered
  CHECK(taken);
  CHECK((std::isnan(w.grad_norm[0]) || std::isinf(w.grad_norm[0])));
}

}  // namespace sbert::test
