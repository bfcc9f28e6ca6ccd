// AdamW against torch.optim.AdamW, state save/restore, and gradient clipping against
// torch.nn.utils.clip_grad_norm_ (fixtures from tools/reference/make_train_fixtures.py).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/context.h"
#include "cpu/train_kernels.h"
#include "test_loss_fixture.h"
#include "train/adamw.h"
#include "train/grad_norm.h"

using namespace sbert;
using testfx::Fixture;
using testfx::max_abs_diff;

namespace {

// The fixture's parameter table (make_train_fixtures.py PARAMS), laid out like
// make_bert_layout: every tensor starts on a 16-float boundary, so the block has padding gaps.
ParamLayout fixture_layout() {
  struct P {
    const char* name;
    std::vector<int64_t> shape;
    bool decay;
  };
  const P table[] = {
      {"w1", {5, 7}, true}, {"b1", {7}, false}, {"w2", {3, 5}, true}, {"ln", {5}, false}};
  ParamLayout L;
  for (const P& p : table) {
    ParamSpec s;
    s.name = p.name;
    s.shape = p.shape;
    s.numel = 1;
    for (int64_t d : p.shape) s.numel *= d;
    s.offset = L.total;
    s.weight_decay = p.decay;
    L.total += (s.numel + 15) / 16 * 16;
    L.specs.push_back(s);
  }
  return L;
}

// Copies tensor values (row `row` of a stacked tensor when row >= 0) into the block.
void scatter(std::vector<float>& block, const ParamLayout& L, const Fixture& fx,
             const std::string& prefix, const std::string& suffix, int64_t row = -1) {
  for (const ParamSpec& s : L.specs) {
    const std::vector<float> v = fx.f32(prefix + s.name + suffix);
    const size_t off = row < 0 ? 0 : static_cast<size_t>(row * s.numel);
    REQUIRE(v.size() >= off + static_cast<size_t>(s.numel));
    std::memcpy(block.data() + s.offset, v.data() + off, static_cast<size_t>(s.numel) * 4);
  }
}

std::vector<float> gather(const float* block, const ParamSpec& s) {
  return std::vector<float>(block + s.offset, block + s.offset + s.numel);
}

// max |a - b| / max(1, |b|)
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e300;
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])) /
                     std::max(1.0, std::abs(static_cast<double>(b[i])));
    if (!(d <= m)) m = d;
  }
  return m;
}

}  // namespace

TEST_CASE("AdamW matches torch.optim.AdamW over 10 steps, decay on and off", "[adamw]") {
  const Fixture fx("adamw.safetensors");
  const ParamLayout L = fixture_layout();
  const int64_t steps = std::stoll(fx.meta("steps"));
  for (const std::string tag : {"a", "b"}) {
    INFO("config " << tag);
    const std::vector<double> c = fx.f64(tag + ".cfg");
    AdamWConfig cfg;
    cfg.beta1 = c[0];
    cfg.beta2 = c[1];
    cfg.eps = c[2];
    cfg.weight_decay = c[3];
    const std::vector<double> lrs = fx.f64(tag + ".lrs");
    std::vector<float> params(static_cast<size_t>(L.total), 0.0f);
    std::vector<float> grads(static_cast<size_t>(L.total), 0.0f);
    scatter(params, L, fx, tag + ".", ".init");
    AdamW opt(L, cfg);
    for (int64_t t = 0; t < steps; ++t) {
      scatter(grads, L, fx, tag + ".", ".grads", t);
      opt.step(params.data(), grads.data(), lrs[static_cast<size_t>(t)]);
    }
    CHECK(opt.step_count() == steps);
    double e_p = 0.0, e_m = 0.0, e_v = 0.0;
    for (const ParamSpec& s : L.specs) {
      e_p = std::max(e_p,
                     max_abs_diff(gather(params.data(), s), fx.f32(tag + "." + s.name + ".final")));
      e_m = std::max(
          e_m, max_rel_diff(gather(opt.exp_avg(), s), fx.f32(tag + "." + s.name + ".exp_avg")));
      e_v = std::max(e_v, max_rel_diff(gather(opt.exp_avg_sq(), s),
                                       fx.f32(tag + "." + s.name + ".exp_avg_sq")));
    }
    if (testfx::verbose()) {
      std::printf(
          "[adamw] config %s: max|d param| %.2e  max|d m|/max(1,|m|) %.2e  max|d v|/max(1,|v|) "
          "%.2e after %lld "
          "steps\n",
          tag.c_str(), e_p, e_m, e_v, static_cast<long long>(steps));
    }
    CHECK(e_p <= 1e-6);
    // m and v reach ~10 and ~100 here; torch's vectorized lerp/addcmul use fused multiply-adds,
    // so they differ from ours by an ulp or so: compare relatively.
    CHECK(e_m <= 1e-6);
    CHECK(e_v <= 1e-6);
    // Padding between tensors stays zero.
    std::vector<bool> used(static_cast<size_t>(L.total), false);
    for (const ParamSpec& s : L.specs) {
      for (int64_t i = 0; i < s.numel; ++i) used[static_cast<size_t>(s.offset + i)] = true;
    }
    for (int64_t i = 0; i < L.total; ++i) {
      if (!used[static_cast<size_t>(i)]) REQUIRE(params[static_cast<size_t>(i)] == 0.0f);
    }
  }
}

TEST_CASE("AdamW decays only the tensors flagged for weight decay", "[adamw]") {
  ParamLayout L;
  L.specs = {{"w", {4}, 0, 4, true}, {"b", {4}, 4, 4, false}};
  L.total = 8;
  AdamWConfig cfg;
  cfg.weight_decay = 0.5;
  AdamW opt(L, cfg);
  std::vector<float> p(8, 2.0f), g(8, 0.0f);
  opt.step(p.data(), g.data(), 0.1);
  // Zero gradient: m = v = 0, the Adam term is 0 / (0 + eps) = 0; only the decay acts.
  for (int i = 0; i < 4; ++i)
    CHECK(p[static_cast<size_t>(i)] ==
          static_cast<float>(2.0f * static_cast<float>(1.0 - 0.1 * 0.5)));
  for (int i = 4; i < 8; ++i) CHECK(p[static_cast<size_t>(i)] == 2.0f);
}

TEST_CASE("AdamW state saved and restored resumes bit for bit", "[adamw]") {
  const Fixture fx("adamw.safetensors");
  const ParamLayout L = fixture_layout();
  std::vector<float> params(static_cast<size_t>(L.total), 0.0f), grads(params.size(), 0.0f);
  scatter(params, L, fx, "a.", ".init");
  AdamW a(L, AdamWConfig{});
  for (int64_t t = 0; t < 4; ++t) {
    scatter(grads, L, fx, "a.", ".grads", t);
    a.step(params.data(), grads.data(), 1e-3);
  }
  // "Checkpoint": copy params and state, continue both runs.
  std::vector<float> params2 = params;
  const std::vector<float> m(a.exp_avg(), a.exp_avg() + a.size());
  const std::vector<float> v(a.exp_avg_sq(), a.exp_avg_sq() + a.size());
  AdamW b(L, AdamWConfig{});
  b.set_state(m.data(), v.data(), a.step_count());
  CHECK(b.step_count() == 4);
  for (int64_t t = 4; t < 10; ++t) {
    scatter(grads, L, fx, "a.", ".grads", t);
    a.step(params.data(), grads.data(), 5e-4);
    b.step(params2.data(), grads.data(), 5e-4);
  }
  CHECK(std::memcmp(params.data(), params2.data(), params.size() * 4) == 0);
  CHECK(std::memcmp(a.exp_avg(), b.exp_avg(), params.size() * 4) == 0);
  CHECK(std::memcmp(a.exp_avg_sq(), b.exp_avg_sq(), params.size() * 4) == 0);
}

TEST_CASE("AdamW rejects bad hyper-parameters and layouts naming the key", "[adamw]") {
  const ParamLayout L = fixture_layout();
  AdamWConfig bad;
  bad.beta2 = 1.0;
  CHECK_THROWS_WITH(AdamW(L, bad),
                    Catch::Contains("[adamw] model.optim.betas[1] must be in [0, 1), got 1"));
  bad = AdamWConfig{};
  bad.beta1 = -0.1;
  CHECK_THROWS_WITH(AdamW(L, bad), Catch::Contains("model.optim.betas[0]"));
  bad = AdamWConfig{};
  bad.eps = -1e-8;
  CHECK_THROWS_WITH(AdamW(L, bad), Catch::Contains("model.optim.eps must be >= 0"));
  bad = AdamWConfig{};
  bad.weight_decay = -0.01;
  CHECK_THROWS_WITH(AdamW(L, bad),
                    Catch::Contains("model.optim.weight_decay must be >= 0, got -0.01"));
  ParamLayout overlap;
  overlap.specs = {{"a", {4}, 0, 4, true}, {"b", {4}, 2, 4, false}};
  overlap.total = 8;
  CHECK_THROWS_WITH(AdamW(overlap, AdamWConfig{}),
                    Catch::Contains("parameter 'b' at offset 2 overlaps"));
  ParamLayout outside;
  outside.specs = {{"a", {8}, 4, 8, true}};
  outside.total = 8;
  CHECK_THROWS_WITH(AdamW(outside, AdamWConfig{}), Catch::Contains("exceeds the block of 8"));
  AdamW opt(L, AdamWConfig{});
  std::vector<float> p(static_cast<size_t>(L.total)), g(p.size());
  CHECK_THROWS_WITH(opt.step(p.data(), g.data(), -1.0),
                    Catch::Contains("learning rate must be >= 0, got -1"));
  CHECK(opt.step_count() == 0);
}

TEST_CASE("gradient clipping matches torch.nn.utils.clip_grad_norm_", "[adamw]") {
  const Fixture fx("clip.safetensors");
  const ParamLayout L = fixture_layout();
  const Context ctx;
  for (const std::string tag : {"big", "small"}) {
    INFO("case " << tag);
    std::vector<float> g(static_cast<size_t>(L.total), 0.0f);
    scatter(g, L, fx, tag + ".", ".grad");
    const double ref_norm = fx.f64(tag + ".total_norm")[0];
    const double norm = clip_grad_norm(ctx, g.data(), L.total, 1.0);
    double e = 0.0;
    for (const ParamSpec& s : L.specs) {
      e = std::max(e, max_abs_diff(gather(g.data(), s), fx.f32(tag + "." + s.name + ".clipped")));
    }
    if (testfx::verbose()) {
      std::printf("[clip] %-5s norm %.7f (torch %.7f, rel %.1e)  max|d grad| %.2e\n", tag.c_str(),
                  norm, ref_norm, std::abs(norm - ref_norm) / ref_norm, e);
    }
    CHECK(std::abs(norm - ref_norm) <= 1e-6 * ref_norm);
    CHECK(e <= 1e-7);
  }
}

TEST_CASE("gradient clipping pieces: partial sums, thread-count independence, edge cases",
          "[adamw]") {
  std::vector<float> g(100000);
  for (size_t i = 0; i < g.size(); ++i) g[i] = std::sin(static_cast<float>(i)) * 0.01f;
  Context one, many;
  one.threads = 1;
  many.threads = 4;
  apply_cpu_threads(one);
  const double s1 = grad_sum_squares(one, g.data(), 100000);
  apply_cpu_threads(many);
  const double s4 = grad_sum_squares(many, g.data(), 100000);
  CHECK(s1 == s4);  // bitwise: fixed chunks summed in order
  apply_cpu_threads(Context{});
  // Data-parallel style: two ranks' partial sums add up to the whole.
  const double a = grad_sum_squares(Context{}, g.data(), 40000);
  const double b = grad_sum_squares(Context{}, g.data() + 40000, 60000);
  CHECK(a + b == Approx(s1).epsilon(1e-13));
  // Norm sqrt(s1) ~ 2.2 > 1: the coefficient is max_norm / (norm + 1e-6).
  const float coef = clip_coefficient(s1, 1.0);
  CHECK(coef == static_cast<float>(1.0 / (std::sqrt(s1) + 1e-6)));
  CHECK(clip_coefficient(s1, 10.0) == 1.0f);  // under the limit: untouched
  CHECK(clip_coefficient(s1, 0.0) == 1.0f);   // gradient_clip_val 0: no clipping
  CHECK(clip_coefficient(std::numeric_limits<double>::infinity(), 1.0) == 1.0f);
  CHECK(clip_coefficient(std::nan(""), 1.0) == 1.0f);
  std::vector<float> h = g;
  scale_grads(Context{}, h.data(), 100000, coef);
  for (size_t i = 0; i < g.size(); i += 997) CHECK(h[i] == g[i] * coef);
  // Non-finite gradients: returned norm is not finite, gradients untouched.
  std::vector<float> bad = {1.0f, std::numeric_limits<float>::infinity(), 2.0f};
  const double nb = clip_grad_norm(Context{}, bad.data(), 3, 1.0);
  CHECK(std::isinf(nb));
  CHECK(bad[0] == 1.0f);
  CHECK(bad[2] == 2.0f);
  Context gpu;
  gpu.device = Device::CUDA;
  CHECK_THROWS_WITH(grad_sum_squares(gpu, g.data(), 10),
                    Catch::Contains("[grad_norm] device cuda needs a CUDA runtime"));
}

TEST_CASE("AdamW kernel: vector body and scalar tail give the same bits", "[adamw]") {
  // Update 2 at lr 1e-3 with NeMo's defaults (betas 0.9, 0.98, weight decay 0.01, eps 1e-8).
  const cpu::AdamWScalars s = adamw_scalars(AdamWConfig{}, 1e-3, 2);
  const int n = 23;
  std::vector<float> p(n), m(n), v(n), g(n);
  for (int i = 0; i < n; ++i) {
    p[static_cast<size_t>(i)] = std::cos(static_cast<float>(i));
    m[static_cast<size_t>(i)] = 0.01f * std::sin(static_cast<float>(i));
    v[static_cast<size_t>(i)] = 1e-4f * static_cast<float>(i % 5);
    g[static_cast<size_t>(i)] = i % 7 == 0 ? 0.0f : std::sin(3.0f * static_cast<float>(i));
  }
  std::vector<float> p1 = p, m1 = m, v1 = v;
  cpu::adamw_update(p.data(), m.data(), v.data(), g.data(), n, s);  // vector body + tail
  for (int i = 0; i < n; ++i) {  // one element at a time: scalar path only
    cpu::adamw_update(p1.data() + i, m1.data() + i, v1.data() + i, g.data() + i, 1, s);
  }
  CHECK(std::memcmp(p.data(), p1.data(), sizeof(float) * n) == 0);
  CHECK(std::memcmp(m.data(), m1.data(), sizeof(float) * n) == 0);
  CHECK(std::memcmp(v.data(), v1.data(), sizeof(float) * n) == 0);
}
