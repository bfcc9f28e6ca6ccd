// Finite-difference check of the contrastive loss backward, in double: every input coordinate,
// central differences, both modes, with masks, label smoothing and an active clamp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "test_loss_fixture.h"
#include "train/loss.h"

using namespace sbert;

namespace {

std::vector<double> unit_rows(std::mt19937_64& rng, int64_t rows, int64_t H, double scale_lo = 1.0,
                              double scale_hi = 1.0) {
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(scale_lo, scale_hi);
  std::vector<double> x(static_cast<size_t>(rows * H));
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int64_t h = 0; h < H; ++h) {
      const double v = nd(rng);
      x[static_cast<size_t>(r * H + h)] = v;
      ss += v * v;
    }
    const double s = ud(rng) / std::sqrt(ss);
    for (int64_t h = 0; h < H; ++h) x[static_cast<size_t>(r * H + h)] *= s;
  }
  return x;
}

struct FdResult {
  double max_err = 0.0;    // max |analytic - numeric|
  double max_grad = 0.0;   // max |analytic|
};

// Checks d loss / d x for every coordinate of q, p and n.
FdResult fd_check(const LossConfig& cfg, std::vector<double> q, std::vector<double> p,
                  std::vector<double> n, const std::vector<uint8_t>& mask, int64_t B, int64_t K,
                  int64_t H) {
  const uint8_t* m = mask.empty() ? nullptr : mask.data();
  std::vector<double> dq(q.size()), dp(p.size()), dn(n.size());
  contrastive_loss(cfg, dq.data(), dp.data(), dn.data(), q.data(), p.data(), n.data(), m, B, K, H);
  auto loss = [&]() {
    return contrastive_loss(cfg, nullptr, nullptr, nullptr, q.data(), p.data(), n.data(), m, B, K,
                            H)
        .loss;
  };
  const double h = 1e-6;
  FdResult r;
  auto sweep = [&](std::vector<double>& x, const std::vector<double>& g) {
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i];
      x[i] = x0 + h;
      const double lp = loss();
      x[i] = x0 - h;
      const double lm = loss();
      x[i] = x0;
      const double num = (lp - lm) / (2 * h);
      r.max_err = std::max(r.max_err, std::abs(num - g[i]));
      r.max_grad = std::max(r.max_grad, std::abs(g[i]));
    }
  };
  sweep(q, dq);
  sweep(p, dp);
  sweep(n, dn);
  return r;
}

// Distance of every score to the clamp bounds, so a finite difference never crosses them.
double min_distance_to_bounds(const std::vector<double>& q, const std::vector<double>& p,
                              const std::vector<double>& n, int64_t B, int64_t K, int64_t H) {
  double d = 1e9;
  auto dot = [&](const double* a, const double* b) {
    double s = 0.0;
    for (int64_t h = 0; h < H; ++h) s += a[h] * b[h];
    return s;
  };
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t j = 0; j < B; ++j) {
      d = std::min(d, std::abs(std::abs(dot(&q[i * H], &p[j * H])) - 1.0));
    }
    for (int64_t k = 0; k < K; ++k) {
      d = std::min(d, std::abs(std::abs(dot(&q[i * H], &n[(i * K + k) * H])) - 1.0));
    }
  }
  return d;
}

}  // namespace

TEST_CASE("contrastive loss backward matches finite differences (double)", "[loss]") {
  const int64_t B = 5, K = 2, H = 6;
  std::mt19937_64 rng(42);
  const std::vector<uint8_t> holes = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};  // query 2 has none left

  struct Variant {
    const char* name;
    LossMode mode;
    double temp_or_scale;
    double smoothing;
    bool masked;
    bool clamp_active;
  };
  const Variant variants[] = {
      {"exclusive", LossMode::ExclusiveHardNegatives, 0.05, 0.0, false, false},
      {"exclusive t=0.02 masked smoothed", LossMode::ExclusiveHardNegatives, 0.02, 0.1, true, false},
      {"exclusive clamp active", LossMode::ExclusiveHardNegatives, 0.1, 0.05, true, true},
      {"shared", LossMode::SharedNegatives, 20.0, 0.0, false, false},
      {"shared masked smoothed", LossMode::SharedNegatives, 20.0, 0.2, true, false},
  };
  for (const Variant& v : variants) {
    INFO(v.name);
    LossConfig cfg;
    cfg.mode = v.mode;
    if (v.mode == LossMode::ExclusiveHardNegatives) {
      cfg.softmax_temp = v.temp_or_scale;
    } else {
      cfg.scale = v.temp_or_scale;
    }
    cfg.label_smoothing = v.smoothing;
    std::vector<double> q, p, n;
    // Unnormalized lengths up to 1.5 push some scores past +-1; redraw until none sits within
    // 1e-3 of a bound, where a difference step could cross the clamp's kink.
    for (int attempt = 0;; ++attempt) {
      REQUIRE(attempt < 1000);
      const double hi = v.clamp_active ? 1.5 : 1.0;
      q = unit_rows(rng, B, H, v.clamp_active ? 1.1 : 1.0, hi);
      p = unit_rows(rng, B, H, v.clamp_active ? 1.1 : 1.0, hi);
      n = unit_rows(rng, B * K, H, v.clamp_active ? 1.1 : 1.0, hi);
      if (v.clamp_active) {
        for (int64_t i = 0; i < B; ++i) {  // positives near their query: scores above 1
          for (int64_t h = 0; h < H; ++h) p[i * H + h] = 0.9 * p[i * H + h] + 1.0 * q[i * H + h];
        }
      }
      if (min_distance_to_bounds(q, p, n, B, K, H) > 1e-3) break;
    }
    const FdResult r = fd_check(cfg, q, p, n, v.masked ? holes : std::vector<uint8_t>(), B, K, H);
    if (testfx::verbose()) {
      std::printf("[loss fd] %-34s max|analytic - numeric| %.2e (max|grad| %.2f)\n", v.name,
                  r.max_err, r.max_grad);
    }
    CHECK(r.max_grad > 0.01);
    CHECK(r.max_err <= 1e-6 * std::max(1.0, r.max_grad));
  }
}
