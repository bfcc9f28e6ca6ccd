// GEMM throughput on the encoder's shapes: our packed GEMM (cpu/gemm_packed.h) against
// OpenBLAS split over the OpenMP threads (cpu/gemm.h, what matmul.cpp used before), for the
// forward (nn.Linear with its bias; GELU fused into FFN-up for ours, a separate pass for
// OpenBLAS) and the two backward GEMMs (dx = dy W, dW += dy^T x).
//   gemm_bench [reps] [tokens]      (OMP_NUM_THREADS sets the threads)
// GFLOP/s = 2 m n k / (process CPU time / threads), median of reps: robust to other load on
// a shared machine (waits for a busy core count, time stolen by other processes does not).
// Then the int8 forward (cpu/qgemm.h, the activations' quantization included) on every kernel
// this CPU runs, in GOP/s.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/gemm_bf16x3.h"
#include "cpu/gemm_packed.h"
#include "cpu/kernels.h"
#include "cpu/qgemm.h"

namespace {

using namespace sbert::cpu;

double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Median over reps of the process CPU time of one call, divided by the threads.
double seconds(const std::function<void()>& f, int reps) {
  f();  // warm up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = cpu_s();
    f();
    t.push_back(cpu_s() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2] / omp_get_max_threads();
}

std::vector<float> randoms(int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(g);
  return v;
}

struct Shape {
  const char* model;
  const char* name;
  int64_t k, n;  // nn.Linear in -> out
  bool gelu;
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int64_t m = argc > 2 ? std::atoll(argv[2]) : 4096;
  const GemmIsa best = gemm_best_isa();
  const Shape shapes[] = {
      {"MiniLM", "QKV", 384, 1152, false},      {"MiniLM", "out-proj", 384, 384, false},
      {"MiniLM", "FFN-up", 384, 1536, true},    {"MiniLM", "FFN-down", 1536, 384, false},
      {"BERT-base", "QKV", 768, 2304, false},   {"BERT-base", "out-proj", 768, 768, false},
      {"BERT-base", "FFN-up", 768, 3072, true}, {"BERT-base", "FFN-down", 3072, 768, false},
  };
  std::printf("threads %d, M = %lld tokens, ours = %s kernel, GFLOP/s (median of %d, CPU time)\n",
              omp_get_max_threads(), static_cast<long long>(m), gemm_isa_name(best), reps);
  std::printf("%-9s %-8s %-8s %5s %5s %5s | %8s %8s %8s %8s\n", "model", "shape", "pass", "m", "n",
              "k", "OpenBLAS", "ours", "ours+pk", "ours-avx2");
  for (const Shape& s : shapes) {
    const auto x = randoms(m * std::max(s.k, s.n), 1), w = randoms(s.n * s.k, 2),
               bias = randoms(s.n, 3), dy = randoms(m * s.n, 4);
    std::vector<float> y(static_cast<size_t>(m * s.n)), pre(y.size()),
        dx(static_cast<size_t>(m * s.k)), dw(static_cast<size_t>(s.n * s.k));
    // forward: y (m, n) = x (m, k) W^T + b [then GELU]
    {
      const double fl = 2.0 * m * s.n * s.k;
      const double blas = seconds(
          [&] {
            matmul_forward({.out = s.gelu ? pre.data() : y.data(),
                            .inp = x.data(),
                            .weight = w.data(),
                            .bias = bias.data(),
                            .rows = m,
                            .k = s.k,
                            .n = s.n});
            if (s.gelu) gelu_forward({.out = y.data(), .inp = pre.data(), .n = m * s.n});
          },
          reps);
      const PackedB pw(best, true, s.k, s.n, w.data(), s.k);
      GemmEpilogue ep;
      ep.bias = bias.data();
      ep.gelu = s.gelu;
      ep.pre = s.gelu ? pre.data() : nullptr;
      const double ours = seconds(
          [&] { sgemm_packed(false, m, x.data(), s.k, pw, false, y.data(), s.n, ep); }, reps);
      const double ours_pk = seconds(
          [&] {
            const PackedB p(best, true, s.k, s.n, w.data(), s.k);
            sgemm_packed(false, m, x.data(), s.k, p, false, y.data(), s.n, ep);
          },
          reps);
      double avx2 = 0;
      if (gemm_isa_supported(GemmIsa::Avx2)) {
        const PackedB p2(GemmIsa::Avx2, true, s.k, s.n, w.data(), s.k);
        avx2 = fl /
               seconds([&] { sgemm_packed(false, m, x.data(), s.k, p2, false, y.data(), s.n, ep); },
                       reps);
      }
      std::printf("%-9s %-8s %-8s %5lld %5lld %5lld | %8.1f %8.1f %8.1f %8.1f\n", s.model, s.name,
                  s.gelu ? "fwd+gelu" : "fwd", static_cast<long long>(m),
                  static_cast<long long>(s.n), static_cast<long long>(s.k), fl / blas * 1e-9,
                  fl / ours * 1e-9, fl / ours_pk * 1e-9, avx2 * 1e-9);
    }
    // backward dx (m, k) = dy (m, n) W (n, k)
    {
      const double fl = 2.0 * m * s.n * s.k;
      const double blas = seconds(
          [&] {
            gemm(false, false, m, s.k, s.n, 1.0f, dy.data(), s.n, w.data(), s.k, 0.0f, dx.data(),
                 s.k);
          },
          reps);
      const double ours_pk = seconds(
          [&] {
            const PackedB p(best, false, s.n, s.k, w.data(), s.k);
            sgemm_packed(false, m, dy.data(), s.n, p, false, dx.data(), s.k);
          },
          reps);
      std::printf("%-9s %-8s %-8s %5lld %5lld %5lld | %8.1f %8s %8.1f %8s\n", s.model, s.name, "dx",
                  static_cast<long long>(m), static_cast<long long>(s.k),
                  static_cast<long long>(s.n), fl / blas * 1e-9, "-", fl / ours_pk * 1e-9, "-");
    }
    // backward dW (n, k) += dy^T (n, m) x (m, k)
    {
      const double fl = 2.0 * m * s.n * s.k;
      const double blas = seconds(
          [&] {
            gemm(true, false, s.n, s.k, m, 1.0f, dy.data(), s.n, x.data(), s.k, 1.0f, dw.data(),
                 s.k);
          },
          reps);
      const double ours_pk = seconds(
          [&] {
            const PackedB p(best, false, m, s.k, x.data(), s.k);
            sgemm_packed(true, s.n, dy.data(), s.n, p, true, dw.data(), s.k);
          },
          reps);
      std::printf("%-9s %-8s %-8s %5lld %5lld %5lld | %8.1f %8s %8.1f %8s\n", s.model, s.name, "dW",
                  static_cast<long long>(s.n), static_cast<long long>(s.k),
                  static_cast<long long>(m), fl / blas * 1e-9, "-", fl / ours_pk * 1e-9, "-");
    }
  }
  std::printf("ours: weights packed at load (forward); ours+pk: op(B) packed in the call\n");

  const QIsa isas[] = {QIsa::Avx2, QIsa::Avx512Vnni, QIsa::Amx};
  std::printf(
      "\nint8 forward (qlinear_forward, x quantized per call), GOP/s\n%-9s %-8s %5s %5s %5s |",
      "model", "shape", "m", "n", "k");
  for (QIsa isa : isas) std::printf(" %11s", to_string(isa));
  std::printf("\n");
  for (const Shape& s : shapes) {
    const auto x = randoms(m * s.k, 1), w = randoms(s.n * s.k, 2), bias = randoms(s.n, 3);
    std::vector<float> y(static_cast<size_t>(m * s.n));
    const QWeight qw = quantize_weight(w.data(), s.n, s.k);
    QScratch scratch;
    std::printf("%-9s %-8s %5lld %5lld %5lld |", s.model, s.name, static_cast<long long>(m),
                static_cast<long long>(s.n), static_cast<long long>(s.k));
    for (QIsa isa : isas) {
      if (!qisa_supported(isa)) {
        std::printf(" %11s", "-");
        continue;
      }
      const double t = seconds(
          [&] { qlinear_forward(y.data(), x.data(), qw, bias.data(), m, scratch, isa, s.gelu); },
          reps);
      std::printf(" %11.1f", 2.0 * m * s.n * s.k / t * 1e-9);
    }
    std::printf("\n");
  }

  // fp32 forward with bf16x3 products on AMX (cpu/gemm_bf16x3.h), against ours fp32 (weights
  // pre-packed), with the largest error of each relative to a double-precision product.
  if (!bf16x3_usable()) return 0;
  std::printf(
      "\nfp32 forward, bf16x3 on AMX tiles (x split per call), GFLOP/s; max |err| / "
      "max |y| against double\n%-9s %-8s %5s %5s %5s | %8s %8s | %9s %9s\n",
      "model", "shape", "m", "n", "k", "ours", "bf16x3", "err ours", "err x3");
  for (const Shape& s : shapes) {
    const auto x = randoms(m * s.k, 1), w = randoms(s.n * s.k, 2), bias = randoms(s.n, 3);
    std::vector<float> y(static_cast<size_t>(m * s.n)), y3(y.size());
    const PackedB pw(best, true, s.k, s.n, w.data(), s.k);
    GemmEpilogue ep;
    ep.bias = bias.data();
    ep.gelu = s.gelu;
    const double fl = 2.0 * m * s.n * s.k;
    const double ours =
        seconds([&] { sgemm_packed(false, m, x.data(), s.k, pw, false, y.data(), s.n, ep); }, reps);
    const SplitWeight sw = split_weight(w.data(), s.n, s.k);
    SplitScratch scratch;
    const double x3 = seconds(
        [&] { bf16x3_linear_forward(y3.data(), x.data(), sw, bias.data(), m, scratch, s.gelu); },
        reps);
    // Errors on the first 64 rows, before GELU.
    double e_ours = 0, e_x3 = 0, top = 0;
    const int64_t rows = std::min<int64_t>(m, 64);
    std::vector<float> a(static_cast<size_t>(rows * s.n)), b(a.size());
    GemmEpilogue plain;
    plain.bias = bias.data();
    sgemm_packed(false, rows, x.data(), s.k, pw, false, a.data(), s.n, plain);
    bf16x3_linear_forward(b.data(), x.data(), sw, bias.data(), rows, scratch);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < s.n; ++j) {
        double ref = static_cast<double>(bias[static_cast<size_t>(j)]);
        for (int64_t t = 0; t < s.k; ++t) {
          ref += static_cast<double>(x[static_cast<size_t>(r * s.k + t)]) *
                 static_cast<double>(w[static_cast<size_t>(j * s.k + t)]);
        }
        const size_t i = static_cast<size_t>(r * s.n + j);
        top = std::max(top, std::abs(ref));
        e_ours = std::max(e_ours, std::abs(static_cast<double>(a[i]) - ref));
        e_x3 = std::max(e_x3, std::abs(static_cast<double>(b[i]) - ref));
      }
    }
    std::printf("%-9s %-8s %5lld %5lld %5lld | %8.1f %8.1f | %9.2e %9.2e\n", s.model, s.name,
                static_cast<long long>(m), static_cast<long long>(s.n), static_cast<long long>(s.k),
                fl / ours * 1e-9, fl / x3 * 1e-9, e_ours / top, e_x3 / top);
  }
  return 0;
}
