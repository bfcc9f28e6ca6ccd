// Contrastive loss: parity with PyTorch autograd (fixtures from
// tools/reference/make_train_fixtures.py), the gradient rule, masks, blocking and errors.
// Finite differences are in test_loss_fd.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "test_loss_fixture.h"
#include "train/loss.h"

using namespace sbert;
using testfx::Fixture;
using testfx::max_abs_diff;

namespace {

struct Case {
  std::string name;
  LossConfig cfg;
  int64_t B = 0, K = 0, H = 0;
  std::vector<float> q, p, n;
  std::vector<uint8_t> mask;
};

Case load_case(const Fixture& fx, const std::string& name) {
  Case c;
  c.name = name;
  const std::vector<double> cfg = fx.f64(name + ".cfg");  // mode, temp|scale, ls, B, K, H
  c.cfg.mode = cfg[0] == 0.0 ? LossMode::ExclusiveHardNegatives : LossMode::SharedNegatives;
  if (c.cfg.mode == LossMode::ExclusiveHardNegatives) {
    c.cfg.softmax_temp = cfg[1];
  } else {
    c.cfg.scale = cfg[1];
  }
  c.cfg.label_smoothing = cfg[2];
  c.B = static_cast<int64_t>(cfg[3]);
  c.K = static_cast<int64_t>(cfg[4]);
  c.H = static_cast<int64_t>(cfg[5]);
  c.q = fx.f32(name + ".q");
  c.p = fx.f32(name + ".p");
  c.n = fx.f32(name + ".n");
  c.mask = fx.u8(name + ".mask");
  return c;
}

struct Grads {
  std::vector<float> dq, dp, dn;
  LossStats st;
};

Grads run(const Case& c, const LossConfig& cfg) {
  Grads g;
  g.dq.assign(c.q.size(), std::nanf(""));
  g.dp.assign(c.p.size(), std::nanf(""));
  g.dn.assign(c.n.size(), std::nanf(""));
  g.st = contrastive_loss(Context{}, cfg, g.dq.data(), g.dp.data(), g.dn.data(), c.q.data(),
                          c.p.data(), c.n.data(), c.mask.data(), c.B, c.K, c.H);
  return g;
}

template <class V>
std::vector<double> up(const V& v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

TEST_CASE("contrastive loss matches PyTorch autograd (float64 and float32 references)", "[loss]") {
  const Fixture fx("loss.safetensors");
  for (const std::string& name : testfx::split_commas(fx.meta("cases"))) {
    if (name == "st_raw") continue;  // composed with l2norm below
    const Case c = load_case(fx, name);
    INFO("case " << name);
    const Grads g = run(c, c.cfg);
    const double loss64 = fx.f64(name + ".loss64")[0];
    const double loss32 = fx.f64(name + ".loss32")[0];
    const double e_loss = std::abs(g.st.loss - loss64);
    const double e_dq = max_abs_diff(g.dq, fx.f64(name + ".dq64"));
    const double e_dp = max_abs_diff(g.dp, fx.f64(name + ".dp64"));
    const double e_dn = max_abs_diff(g.dn, fx.f64(name + ".dn64"));
    const double e32 = std::max({max_abs_diff(g.dq, fx.f64(name + ".dq32")),
                                 max_abs_diff(g.dp, fx.f64(name + ".dp32")),
                                 max_abs_diff(g.dn, fx.f64(name + ".dn32"))});
    if (testfx::verbose()) {
      std::printf(
          "[loss] %-24s loss %.8f |d loss| %.2e (vs fp32 torch %.2e)  max|d grad| dq %.2e "
          "dp %.2e dn %.2e (vs fp32 torch %.2e)\n",
          name.c_str(), g.st.loss, e_loss, std::abs(g.st.loss - loss32), e_dq, e_dp, e_dn, e32);
    }
    CHECK(e_loss <= 1e-6);
    CHECK(e_dq <= 1e-6);
    CHECK(e_dp <= 1e-6);
    CHECK(e_dn <= 1e-6);
    // float32 PyTorch is itself ~2e-6 away from float64 at softmax_temp 0.02.
    CHECK(std::abs(g.st.loss - loss32) <= 1e-5);
    CHECK(e32 <= 2e-5);
    CHECK(g.st.accuracy == fx.f64(name + ".accuracy")[0]);
    CHECK(std::abs(g.st.pos_score - fx.f64(name + ".pos_score")[0]) <= 1e-6);

    // The double entry point on the same inputs: float64 torch to rounding.
    std::vector<double> dq(c.q.size()), dp(c.p.size()), dn(c.n.size());
    const std::vector<double> q = up(c.q), p = up(c.p), n = up(c.n);
    const LossStats sd = contrastive_loss(c.cfg, dq.data(), dp.data(), dn.data(), q.data(),
                                          p.data(), n.data(), c.mask.data(), c.B, c.K, c.H);
    CHECK(std::abs(sd.loss - loss64) <= 1e-12);
    CHECK(max_abs_diff(dq, fx.f64(name + ".dq64")) <= 1e-12);
    CHECK(max_abs_diff(dp, fx.f64(name + ".dp64")) <= 1e-12);
    CHECK(max_abs_diff(dn, fx.f64(name + ".dn64")) <= 1e-12);
  }
}

TEST_CASE("l2norm + shared-negatives loss reproduces sentence-transformers' MNRL on raw embeddings",
          "[loss]") {
  // ST's cos_sim normalizes inside the loss; libsbert normalizes in pooling (l2norm) and the
  // loss takes unit vectors. Composed, the two must agree, gradients included.
  const Fixture fx("loss.safetensors");
  const Case c = load_case(fx, "st_raw");
  const int64_t NK = c.B * c.K;
  std::vector<float> qn(c.q.size()), pn(c.p.size()), nn(c.n.size());
  std::vector<float> qnorm(static_cast<size_t>(c.B)), pnorm(static_cast<size_t>(c.B)),
      nnorm(static_cast<size_t>(NK));
  cpu::l2norm_forward(
      {.out = qn.data(), .norm = qnorm.data(), .inp = c.q.data(), .rows = c.B, .C = c.H});
  cpu::l2norm_forward(
      {.out = pn.data(), .norm = pnorm.data(), .inp = c.p.data(), .rows = c.B, .C = c.H});
  cpu::l2norm_forward(
      {.out = nn.data(), .norm = nnorm.data(), .inp = c.n.data(), .rows = NK, .C = c.H});
  std::vector<float> dqn(c.q.size()), dpn(c.p.size()), dnn(c.n.size());
  const LossStats st =
      contrastive_loss(Context{}, c.cfg, dqn.data(), dpn.data(), dnn.data(), qn.data(), pn.data(),
                       nn.data(), c.mask.data(), c.B, c.K, c.H);
  std::vector<float> dq(c.q.size()), dp(c.p.size()), dn(c.n.size());
  cpu::l2norm_backward({.dinp = dq.data(),
                        .dout = dqn.data(),
                        .out = qn.data(),
                        .norm = qnorm.data(),
                        .rows = c.B,
                        .C = c.H});
  cpu::l2norm_backward({.dinp = dp.data(),
                        .dout = dpn.data(),
                        .out = pn.data(),
                        .norm = pnorm.data(),
                        .rows = c.B,
                        .C = c.H});
  cpu::l2norm_backward({.dinp = dn.data(),
                        .dout = dnn.data(),
                        .out = nn.data(),
                        .norm = nnorm.data(),
                        .rows = NK,
                        .C = c.H});
  const double e_loss = std::abs(st.loss - fx.f64("st_raw.loss64")[0]);
  const double e =
      std::max({max_abs_diff(dq, fx.f64("st_raw.dq64")), max_abs_diff(dp, fx.f64("st_raw.dp64")),
                max_abs_diff(dn, fx.f64("st_raw.dn64"))});
  if (testfx::verbose()) {
    std::printf(
        "[loss] st_raw (l2norm + loss + l2norm backward vs ST MNRL) |d loss| %.2e "
        "max|d grad| %.2e\n",
        e_loss, e);
  }
  CHECK(e_loss <= 1e-6);
  CHECK(e <= 1e-6);
}

TEST_CASE("contrastive loss: blocking, forward-only and the gradient rule", "[loss]") {
  const Fixture fx("loss.safetensors");
  for (const std::string name : {"nemo_mask_smooth", "st_mask_smooth", "nemo_clamp"}) {
    INFO("case " << name);
    const Case c = load_case(fx, name);
    const Grads whole = run(c, c.cfg);  // outputs pre-filled with NaN: every one is written
    for (float v : whole.dq) REQUIRE(std::isfinite(v));
    for (float v : whole.dp) REQUIRE(std::isfinite(v));
    for (float v : whole.dn) REQUIRE(std::isfinite(v));
    // Masked slots get a zero gradient row.
    for (int64_t s = 0; s < c.B * c.K; ++s) {
      if (c.mask[static_cast<size_t>(s)] == 0) {
        for (int64_t h = 0; h < c.H; ++h) CHECK(whole.dn[static_cast<size_t>(s * c.H + h)] == 0.0f);
      }
    }
    for (int64_t rows : {1, 3, 5}) {
      LossConfig cfg = c.cfg;
      cfg.block_rows = rows;
      const Grads blk = run(c, cfg);
      CHECK(std::abs(blk.st.loss - whole.st.loss) <= 1e-12);
      CHECK(blk.st.accuracy == whole.st.accuracy);
      CHECK(max_abs_diff(blk.dq, whole.dq) <= 1e-6);
      CHECK(max_abs_diff(blk.dp, whole.dp) <= 1e-6);
      CHECK(max_abs_diff(blk.dn, whole.dn) <= 1e-6);
    }
    // Forward only: same loss and statistics, nothing written.
    const LossStats fo = contrastive_loss(Context{}, c.cfg, nullptr, nullptr, nullptr, c.q.data(),
                                          c.p.data(), c.n.data(), c.mask.data(), c.B, c.K, c.H);
    CHECK(fo.loss == whole.st.loss);
    CHECK(fo.pos_score == whole.st.pos_score);
    CHECK(fo.hard_neg_score == whole.st.hard_neg_score);
    CHECK(fo.inbatch_neg_score == whole.st.inbatch_neg_score);
    int64_t valid = 0;
    for (uint8_t m : c.mask) valid += m != 0;
    CHECK(fo.hard_negatives == valid);
  }
}

TEST_CASE("masked hard-negative rows are never read", "[loss]") {
  const Fixture fx("loss.safetensors");
  for (const std::string name : {"nemo_mask", "st_mask_smooth"}) {
    INFO("case " << name);
    Case c = load_case(fx, name);
    const Grads ref = run(c, c.cfg);
    for (int64_t s = 0; s < c.B * c.K; ++s) {
      if (c.mask[static_cast<size_t>(s)] != 0) continue;
      for (int64_t h = 0; h < c.H; ++h) {
        c.n[static_cast<size_t>(s * c.H + h)] = std::numeric_limits<float>::quiet_NaN();
      }
    }
    const Grads g = run(c, c.cfg);
    CHECK(g.st.loss == ref.st.loss);
    CHECK(max_abs_diff(g.dq, ref.dq) == 0.0);
    CHECK(max_abs_diff(g.dp, ref.dp) == 0.0);
    CHECK(max_abs_diff(g.dn, ref.dn) == 0.0);
  }
}

TEST_CASE("no hard negatives (K = 0) and the statistics", "[loss]") {
  // Two queries, exact scores: Q0.P0 = 1, Q0.P1 = 0, Q1.P0 = 0.6, Q1.P1 = 0.8.
  const std::vector<float> q = {1, 0, 0.6f, 0.8f};
  const std::vector<float> p = {1, 0, 0, 1};
  LossConfig cfg;
  cfg.softmax_temp = 0.5;
  std::vector<float> dq(4), dp(4);
  const LossStats st = contrastive_loss(Context{}, cfg, dq.data(), dp.data(), nullptr, q.data(),
                                        p.data(), nullptr, nullptr, 2, 0, 2);
  const double l0 = std::log(std::exp(2.0) + std::exp(0.0)) - 2.0;
  const double l1 =
      std::log(std::exp(2.0 * 0.6000000238418579) + std::exp(2.0 * 0.800000011920929)) -
      2.0 * 0.800000011920929;
  CHECK(st.loss == Approx((l0 + l1) / 2).epsilon(1e-12));
  CHECK(st.accuracy == 1.0);
  CHECK(st.pos_score == Approx((1.0 + 0.800000011920929) / 2).epsilon(1e-12));
  CHECK(st.inbatch_neg_score == Approx(0.6000000238418579 / 2).epsilon(1e-12));
  CHECK(st.hard_negatives == 0);
  CHECK(st.hard_neg_score == 0.0);
}

TEST_CASE("contrastive loss rejects bad arguments with the key and the value", "[loss]") {
  const std::vector<float> q(8, 0.5f), p(8, 0.5f), n(16, 0.5f);
  const Context cpu;
  auto call = [&](const LossConfig& cfg, int64_t B, int64_t K, int64_t H, const float* nn) {
    contrastive_loss(cpu, cfg, nullptr, nullptr, nullptr, q.data(), p.data(), nn, nullptr, B, K, H);
  };
  LossConfig ok;
  CHECK_NOTHROW(call(ok, 2, 2, 4, n.data()));
  LossConfig bad = ok;
  bad.softmax_temp = 0.0;
  CHECK_THROWS_WITH(call(bad, 2, 2, 4, n.data()),
                    Catch::Contains("[loss] model.softmax_temp must be positive, got 0"));
  bad = ok;
  bad.label_smoothing = 1.5;
  CHECK_THROWS_WITH(call(bad, 2, 2, 4, n.data()),
                    Catch::Contains("label_smoothing") && Catch::Contains("1.5"));
  bad = ok;
  bad.mode = LossMode::SharedNegatives;
  bad.scale = -1.0;
  CHECK_THROWS_WITH(call(bad, 2, 2, 4, n.data()), Catch::Contains("[loss] scale must be positive"));
  CHECK_THROWS_WITH(call(ok, 0, 2, 4, n.data()), Catch::Contains("[loss] batch size B"));
  CHECK_THROWS_WITH(call(ok, 2, -1, 4, n.data()), Catch::Contains("K must be >= 0, got -1"));
  CHECK_THROWS_WITH(call(ok, 2, 2, 4, nullptr),
                    Catch::Contains("hard negatives are null but K is 2"));
  Context gpu;
  gpu.device = Device::CUDA;
  CHECK_THROWS_WITH(contrastive_loss(gpu, ok, nullptr, nullptr, nullptr, q.data(), p.data(),
                                     n.data(), nullptr, 2, 2, 4),
                    Catch::Contains("[loss] device cuda needs a CUDA runtime"));
  CHECK(parse_loss_mode("nemo") == LossMode::ExclusiveHardNegatives);
  CHECK(parse_loss_mode("shared_negatives") == LossMode::SharedNegatives);
  CHECK_THROWS_WITH(parse_loss_mode("triplet"), Catch::Contains("unknown loss mode 'triplet'"));
}
