// cpu/gemm_packed.h against a double-precision reference, for every micro-kernel this CPU runs
// (the portable one always): transposes, edge tiles, k blocking, accumulation, each epilogue;
// and the same bits for 1 and 2 threads.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "cpu/fast_math.h"
#include "cpu/gemm_packed.h"

using namespace sbert::cpu;

namespace {

std::vector<float> randoms(int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(g);
  return v;
}

std::vector<GemmIsa> isas() {
  std::vector<GemmIsa> out{GemmIsa::Generic};
  for (GemmIsa i : {GemmIsa::Avx2, GemmIsa::Avx512}) {
    if (gemm_isa_supported(i)) out.push_back(i);
  }
  return out;
}

struct Case {
  int64_t m, n, k;
  bool ta, tb, acc;
};

double gelu_ref(double x) { return x * 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

// Runs one case with every epilogue and checks each element against the double sum with a
// bound of (k + 2) fp32 roundings of sum |a b| (+ the output's magnitude for the epilogues).
void check(GemmIsa isa, const Case& t) {
  const int64_t lda = t.ta ? t.m + 3 : t.k + 3, ldb = t.tb ? t.k + 2 : t.n + 2, ldc = t.n + 5;
  const auto a = randoms((t.ta ? t.k : t.m) * lda, 1), b = randoms((t.tb ? t.n : t.k) * ldb, 2),
             bias = randoms(t.n, 3), c0 = randoms(t.m * ldc, 4), res = randoms(t.m * ldc, 5);
  auto A = [&](int64_t i, int64_t p) { return double(t.ta ? a[p * lda + i] : a[i * lda + p]); };
  auto B = [&](int64_t p, int64_t j) { return double(t.tb ? b[j * ldb + p] : b[p * ldb + j]); };
  const PackedB pb(isa, t.tb, t.k, t.n, b.data(), ldb);
  for (int mode = 0; mode < 4; ++mode) {  // none, bias, bias + GELU, bias + residual
    GemmEpilogue ep;
    std::vector<float> pre(c0.size());
    if (mode >= 1) ep.bias = bias.data();
    if (mode == 2) {
      ep.gelu = true;
      ep.pre = pre.data();
    }
    if (mode == 3) {
      ep.residual = res.data();
      ep.ldr = ldc;
    }
    std::vector<float> c = c0;
    sgemm_packed(t.ta, t.m, a.data(), lda, pb, t.acc, c.data(), ldc, ep);
    double worst = 0;
    for (int64_t i = 0; i < t.m; ++i) {
      for (int64_t j = 0; j < t.n; ++j) {
        double s = 0, mag = 0;
        for (int64_t p = 0; p < t.k; ++p) {
          s += A(i, p) * B(p, j);
          mag += std::fabs(A(i, p) * B(p, j));
        }
        if (t.acc) {
          s += double(c0[i * ldc + j]);
          mag += std::fabs(double(c0[i * ldc + j]));
        }
        if (mode >= 1) {
          s += double(bias[j]);
          mag += std::fabs(double(bias[j]));
        }
        double tol = double(t.k + 3) * 6e-8 * mag + 1e-30;
        const double got = c[i * ldc + j];
        if (mode == 2) {
          // pre is the sum; out is cpu/gelu.cpp's GELU of it, bit for bit.
          REQUIRE(std::fabs(double(pre[i * ldc + j]) - s) <= tol);
          REQUIRE(c[i * ldc + j] == gelu_erf(pre[i * ldc + j]));
          s = gelu_ref(s);
          tol = 1.2 * tol + 1e-6 * (1 + std::fabs(s));
        }
        if (mode == 3) {
          s += double(res[i * ldc + j]);
          tol += 6e-8 * std::fabs(s);
        }
        worst = std::max(worst, std::fabs(got - s) / tol);
      }
      // Padding columns of C are untouched.
      for (int64_t j = t.n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == c0[i * ldc + j]);
    }
    INFO(gemm_isa_name(isa) << " m " << t.m << " n " << t.n << " k " << t.k << " ta " << t.ta
                            << " tb " << t.tb << " acc " << t.acc << " epilogue " << mode);
    REQUIRE(worst <= 1.0);
  }
}

}  // namespace

TEST_CASE("packed gemm matches a double reference on every kernel", "[gemm]") {
  const Case cases[] = {
      {1, 1, 1, false, false, false},     {13, 17, 5, false, true, false},
      {20, 40, 1700, true, false, true},  {29, 35, 1600, false, true, false},
      {37, 100, 300, false, true, false}, {37, 100, 300, true, false, true},
      {25, 33, 0, false, true, true},     {64, 64, 600, true, true, false},
      {150, 70, 40, false, false, true},  {7, 300, 9, false, true, false},
  };
  for (GemmIsa isa : isas()) {
    for (const Case& t : cases) check(isa, t);
  }
}

TEST_CASE("packed gemm gives the same bits on 1 and 2 threads", "[gemm]") {
  const int64_t m = 301, n = 203, k = 517;
  const auto a = randoms(m * k, 7), b = randoms(n * k, 8), bias = randoms(n, 9);
  for (GemmIsa isa : isas()) {
    const PackedB pb(isa, true, k, n, b.data(), k);
    GemmEpilogue ep;
    ep.bias = bias.data();
    ep.gelu = true;
    std::vector<float> c1(static_cast<size_t>(m * n)), c2(c1.size()),
        ct(static_cast<size_t>(n * 9));
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    sgemm_packed(false, m, a.data(), k, pb, false, c1.data(), n, ep);
    omp_set_num_threads(2);
    sgemm_packed(false, m, a.data(), k, pb, false, c2.data(), n, ep);
    omp_set_num_threads(before);
    INFO(gemm_isa_name(isa));
    REQUIRE(c1 == c2);
    // Fewer rows than columns: the columns are split instead; each element still the same.
    sgemm_packed(false, 9, a.data(), k, pb, false, ct.data(), n, ep);
    for (int64_t i = 0; i < 9; ++i) {
      for (int64_t j = 0; j < n; ++j) REQUIRE(ct[i * n + j] == c1[i * n + j]);
    }
  }
}

TEST_CASE("packed gemm refuses a kernel the CPU lacks", "[gemm]") {
  if (gemm_isa_supported(GemmIsa::Avx512)) return;
  const std::vector<float> b(4, 1.0f);
  REQUIRE_THROWS_WITH(PackedB(GemmIsa::Avx512, false, 2, 2, b.data(), 2),
                      Catch::Contains("[gemm]") && Catch::Contains("avx512"));
}
