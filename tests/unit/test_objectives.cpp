// The objectives of train/objective.h against sentence-transformers' own loss classes
// (tests/fixtures/train/objectives.safetensors, tools/reference/make_objective_fixtures.py):
// loss value and gradients w.r.t. the input embeddings, double and float entry points; then
// finite differences in double (with masked slots, which ST has no notion of), the config
// checks and the bit-identity of the nemo / mnrl path.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "test_loss_fixture.h"
#include "train/objective.h"

using namespace sbert;

namespace {

struct FxCase {
  ObjectiveConfig cfg;
  int64_t B = 0, K = 0, H = 0, GH = 0;
  std::vector<double> q, p, n, gq, gp, gn, scores, margins;
  double loss = 0;
  std::vector<double> dq, dp, dn;
};

FxCase load_case(const testfx::Fixture& fx, const std::string& name) {
  simdjson::dom::parser parser;
  const std::string js = fx.meta(name);
  simdjson::dom::element doc = parser.parse(js);
  FxCase c;
  c.B = int64_t(doc["B"]);
  c.K = int64_t(doc["K"]);
  c.H = int64_t(doc["H"]);
  c.GH = int64_t(doc["GH"]);
  const std::string loss{std::string_view(doc["loss"])};
  auto num = [&](const char* k, double& out) {
    double v;
    if (!doc[k].get(v)) out = v;
  };
  auto flag = [&](const char* k, bool& out) {
    bool v;
    if (!doc[k].get(v)) out = v;
  };
  ObjectiveConfig& o = c.cfg;
  if (loss == "mnrl") {
    o.contrastive.mode = LossMode::SharedNegatives;
    num("mnrl_scale", o.contrastive.scale);
  } else if (loss == "cosent") {
    o.kind = ObjectiveKind::CoSENT;
  } else if (loss == "angle") {
    o.kind = ObjectiveKind::AnglE;
  } else if (loss == "gist") {
    o.kind = ObjectiveKind::GIST;
  } else if (loss == "marginmse") {
    o.kind = ObjectiveKind::MarginMSE;
  }
  num("cosent_scale", o.cosent_scale);
  num("angle_scale", o.angle_scale);
  num("gist_temperature", o.gist_temperature);
  num("gist_margin", o.gist_margin);
  flag("gist_contrast_anchors", o.gist_contrast_anchors);
  flag("gist_contrast_positives", o.gist_contrast_positives);
  std::string_view ms;
  if (!doc["gist_margin_strategy"].get(ms) && ms == "relative") {
    o.gist_margin_strategy = GistMargin::Relative;
  }
  simdjson::dom::array arr;
  if (!doc["matryoshka_dims"].get(arr))
    for (auto v : arr) o.matryoshka_dims.push_back(int64_t(v));
  if (!doc["matryoshka_weights"].get(arr))
    for (auto v : arr) o.matryoshka_weights.push_back(double(v));
  auto get = [&](const char* t) {
    const std::string k = name + "." + t;
    return fx.has(k) ? fx.f64(k) : std::vector<double>();
  };
  c.q = get("q");
  c.p = get("p");
  c.n = get("n");
  c.gq = get("gq");
  c.gp = get("gp");
  c.gn = get("gn");
  c.scores = get("scores");
  c.margins = get("margins");
  c.loss = get("loss").at(0);
  c.dq = get("dq");
  c.dp = get("dp");
  c.dn = get("dn");
  return c;
}

template <class T>
const T* ptr(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

template <class T>
LossInputs<T> inputs(const FxCase& c, const std::vector<T>& q, const std::vector<T>& p,
                     const std::vector<T>& n, const std::vector<T>& gq, const std::vector<T>& gp,
                     const std::vector<T>& gn, const uint8_t* mask = nullptr) {
  return LossInputs<T>{ptr(q),        ptr(p),         ptr(n),  mask,    c.B,     c.K, c.H,
                       ptr(c.scores), ptr(c.margins), ptr(gq), ptr(gp), ptr(gn), c.GH};
}

// max |a - b| / max |b|
template <class T>
double rel_err(const std::vector<T>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return den > 0 ? num / den : num;
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("objectives match sentence-transformers' loss classes: values and gradients",
          "[loss][objectives]") {
  const testfx::Fixture fx("objectives.safetensors");
  std::string list = fx.meta("cases");
  std::vector<std::string> names;
  for (size_t b = 0, e; b <= list.size(); b = e + 1) {
    e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    names.push_back(list.substr(b, e - b));
  }
  REQUIRE(names.size() >= 17);
  double worst64 = 0, worst32 = 0;
  for (const std::string& name : names) {
    INFO("case " << name);
    const FxCase c = load_case(fx, name);
    // double entry point
    std::vector<double> dq(c.q.size()), dp(c.p.size()), dn(c.n.size());
    const LossStats s = objective_loss(c.cfg, inputs<double>(c, c.q, c.p, c.n, c.gq, c.gp, c.gn),
                                       {dq.data(), dp.data(), ptr(dn) ? dn.data() : nullptr});
    const double e64 = std::max({std::fabs(s.loss - c.loss) / std::fabs(c.loss), rel_err(dq, c.dq),
                                 rel_err(dp, c.dp), c.n.empty() ? 0.0 : rel_err(dn, c.dn)});
    CHECK(e64 < 1e-9);
    // float entry point (what GradCache calls): inputs are float32-representable
    const auto fq = to_float(c.q), fp = to_float(c.p), fn = to_float(c.n), fgq = to_float(c.gq),
               fgp = to_float(c.gp), fgn = to_float(c.gn);
    std::vector<float> gq(fq.size()), gp(fp.size()), gn(fn.size());
    const LossStats s32 =
        objective_loss(Context{}, c.cfg, inputs<float>(c, fq, fp, fn, fgq, fgp, fgn),
                       {gq.data(), gp.data(), gn.empty() ? nullptr : gn.data()});
    const double e32 =
        std::max({std::fabs(s32.loss - c.loss) / std::fabs(c.loss), rel_err(gq, c.dq),
                  rel_err(gp, c.dp), c.n.empty() ? 0.0 : rel_err(gn, c.dn)});
    CHECK(e32 < 1e-5);
    worst64 = std::max(worst64, e64);
    worst32 = std::max(worst32, e32);
  }
  std::printf(
      "objectives vs sentence-transformers (%zu cases): max relative error %.2g (double), "
      "%.2g (float entry)\n",
      names.size(), worst64, worst32);
}

namespace {

std::vector<double> randn(std::mt19937_64& rng, size_t count, double scale) {
  std::normal_distribution<double> nd;
  std::vector<double> x(count);
  for (double& v : x) v = scale * nd(rng);
  return x;
}

// Central differences over every input coordinate; returns max |analytic - numeric| / max |g|.
double fd_check(const ObjectiveConfig& cfg, FxCase c, const std::vector<uint8_t>& mask) {
  const uint8_t* m = mask.empty() ? nullptr : mask.data();
  std::vector<double> dq(c.q.size()), dp(c.p.size()), dn(c.n.size());
  objective_loss(cfg, inputs<double>(c, c.q, c.p, c.n, c.gq, c.gp, c.gn, m),
                 {dq.data(), dp.data(), dn.empty() ? nullptr : dn.data()});
  auto loss = [&] {
    return objective_loss(cfg, inputs<double>(c, c.q, c.p, c.n, c.gq, c.gp, c.gn, m), {}).loss;
  };
  double err = 0, big = 0;
  auto sweep = [&](std::vector<double>& x, const std::vector<double>& g) {
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i], h = 1e-6;
      x[i] = x0 + h;
      const double lp = loss();
      x[i] = x0 - h;
      const double lm = loss();
      x[i] = x0;
      err = std::max(err, std::fabs((lp - lm) / (2 * h) - g[i]));
      big = std::max(big, std::fabs(g[i]));
    }
  };
  sweep(c.q, dq);
  sweep(c.p, dp);
  sweep(c.n, dn);
  return err / big;
}

}  // namespace

TEST_CASE("objectives backward matches finite differences (double, masked slots)",
          "[loss][objectives]") {
  std::mt19937_64 rng(7);
  FxCase c;
  c.B = 6;
  c.K = 2;
  c.H = 9;
  c.GH = 5;
  c.q = randn(rng, 6 * 9, 1.5);
  c.p = randn(rng, 6 * 9, 1.5);
  c.n = randn(rng, 12 * 9, 1.5);
  c.gq = randn(rng, 6 * 5, 1.0);
  c.gp = c.gq;
  for (double& v : c.gp) v += 0.7 * randn(rng, 1, 1.0)[0];
  c.gn = randn(rng, 12 * 5, 1.0);
  c.scores = {0.3, 0.9, 0.3, 0.1, 0.5, 0.7};
  c.margins = randn(rng, 12, 1.0);
  const std::vector<uint8_t> holes = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1};
  std::vector<std::pair<std::string, ObjectiveConfig>> cfgs;
  ObjectiveConfig o;
  o.kind = ObjectiveKind::CoSENT;
  o.cosent_scale = 5;
  cfgs.emplace_back("cosent", o);
  o.kind = ObjectiveKind::AnglE;
  o.angle_scale = 3;
  cfgs.emplace_back("angle (odd H)", o);
  o.kind = ObjectiveKind::MarginMSE;
  cfgs.emplace_back("marginmse", o);
  o.kind = ObjectiveKind::GIST;
  o.gist_temperature = 0.5;
  cfgs.emplace_back("gist", o);
  o.gist_margin_strategy = GistMargin::Relative;
  o.gist_margin = 0.2;
  o.gist_contrast_anchors = false;
  cfgs.emplace_back("gist relative", o);
  o.matryoshka_dims = {9, 6, 3};
  o.matryoshka_weights = {1.0, 0.5, 2.0};
  cfgs.emplace_back("matryoshka gist", o);
  o.kind = ObjectiveKind::MarginMSE;
  cfgs.emplace_back("matryoshka marginmse", o);
  o.kind = ObjectiveKind::AnglE;
  o.matryoshka_active = {1, 0, 1};
  cfgs.emplace_back("matryoshka angle, two dims active", o);
  ObjectiveConfig mn;
  mn.contrastive.mode = LossMode::SharedNegatives;
  mn.contrastive.scale = 4;
  mn.matryoshka_dims = {9, 5};
  cfgs.emplace_back("matryoshka mnrl", mn);
  mn.contrastive.mode = LossMode::ExclusiveHardNegatives;
  mn.contrastive.softmax_temp = 0.5;
  cfgs.emplace_back("matryoshka nemo", mn);
  for (const auto& [name, cfg] : cfgs) {
    for (bool masked : {false, true}) {
      INFO(name << (masked ? " masked" : ""));
      const double e = fd_check(cfg, c, masked ? holes : std::vector<uint8_t>());
      CHECK(e < 1e-6);
    }
  }
}

TEST_CASE("objectives: masked negative slots get no gradient and nemo/mnrl are unchanged",
          "[loss][objectives]") {
  std::mt19937_64 rng(11);
  const int64_t B = 4, K = 2, H = 8;
  auto f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  std::vector<float> q = f(randn(rng, B * H, 0.3)), p = f(randn(rng, B * H, 0.3)),
                     n = f(randn(rng, B * K * H, 0.3));
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0, 0, 1, 1};
  // nemo / mnrl through the entry point: bit-identical to contrastive_loss
  for (LossMode mode : {LossMode::ExclusiveHardNegatives, LossMode::SharedNegatives}) {
    LossConfig lc;
    lc.mode = mode;
    std::vector<float> a(B * H), b(B * H), c(B * K * H), a2(B * H), b2(B * H), c2(B * K * H);
    const LossStats s1 = contrastive_loss(Context{}, lc, a.data(), b.data(), c.data(), q.data(),
                                          p.data(), n.data(), mask.data(), B, K, H);
    const LossStats s2 =
        objective_loss(Context{}, ObjectiveConfig(lc),
                       LossInputs<float>{q.data(), p.data(), n.data(), mask.data(), B, K, H},
                       {a2.data(), b2.data(), c2.data()});
    CHECK(s1.loss == s2.loss);
    CHECK(a == a2);
    CHECK(b == b2);
    CHECK(c == c2);
  }
  // marginmse with masked slots holding garbage: ignored, zero gradient there
  std::vector<double> margins(B * K, 0.5);
  for (size_t s = 0; s < mask.size(); ++s)
    if (!mask[s]) std::fill(n.begin() + s * H, n.begin() + (s + 1) * H, 1e30f);
  ObjectiveConfig o;
  o.kind = ObjectiveKind::MarginMSE;
  o.matryoshka_dims = {8, 4};
  std::vector<float> dq(B * H), dp(B * H), dn(B * K * H, 7.0f);
  LossInputs<float> in{q.data(), p.data(), n.data(), mask.data(), B, K, H};
  in.margins = margins.data();
  const LossStats s = objective_loss(Context{}, o, in, {dq.data(), dp.data(), dn.data()});
  CHECK(std::isfinite(s.loss));
  CHECK(s.hard_negatives == 5);
  for (size_t slot = 0; slot < mask.size(); ++slot)
    for (int64_t h = 0; h < H; ++h)
      if (!mask[slot]) CHECK(dn[slot * H + h] == 0.0f);
}

TEST_CASE("objectives reject bad settings with the key and the value", "[loss][objectives]") {
  ObjectiveConfig o;
  o.kind = ObjectiveKind::CoSENT;
  o.cosent_scale = 0;
  CHECK_THROWS_WITH(validate(o), Catch::Contains("model.cosent_scale must be positive, got 0"));
  o.kind = ObjectiveKind::GIST;
  o.gist_temperature = -1;
  CHECK_THROWS_WITH(validate(o), Catch::Contains("model.gist_temperature must be positive"));
  o.gist_temperature = 0.01;
  o.matryoshka_dims = {384, 512};
  CHECK_THROWS_WITH(validate(o, 384),
                    Catch::Contains("model.matryoshka_dims: 512 exceeds the model's embedding "
                                    "dimension 384"));
  o.matryoshka_dims = {384, 0};
  CHECK_THROWS_WITH(validate(o, 384), Catch::Contains("must all be positive, got 0"));
  o.matryoshka_dims = {384, 64};
  o.matryoshka_weights = {1};
  CHECK_THROWS_WITH(validate(o, 384), Catch::Contains("model.matryoshka_weights has 1 values"));
  // cosent without scores, gist without guide, CUDA
  ObjectiveConfig c;
  c.kind = ObjectiveKind::CoSENT;
  std::vector<float> x(8, 0.5f);
  LossInputs<float> in{x.data(), x.data(), nullptr, nullptr, 2, 0, 4};
  CHECK_THROWS_WITH(objective_loss(Context{}, c, in, {}), Catch::Contains("cosent needs a score"));
  c.kind = ObjectiveKind::GIST;
  CHECK_THROWS_WITH(objective_loss(Context{}, c, in, {}),
                    Catch::Contains("gist needs the guide model's embeddings"));
  Context gpu;
  gpu.device = Device::CUDA;
  CHECK_THROWS_WITH(objective_loss(gpu, c, in, {}),
                    Catch::Contains("[loss] gist has no CUDA implementation yet"));
}
