// The FMA peak of this machine, per instruction set: every thread runs independent chains of
// vector FMAs (enough to cover the latency) and we count 2 flops per lane per FMA over the
// thread's CPU time. Prints GFLOP/s per core and for all OpenMP threads; docs/benchmarks.md
// reports the GEMM's efficiency against these numbers.
//   fma_peak [seconds-per-test]
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// 12 independent chains of 8-lane FMAs per iteration; returns flops done.
__attribute__((target("avx2,fma"))) double run_avx2(long iters, float* sink) {
  __m256 acc[12];
  for (auto& v : acc) v = _mm256_set1_ps(0.0f);
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  *sink += _mm256_cvtss_f32(s);
  return 2.0 * 8 * 12 * static_cast<double>(iters);
}

// 24 independent chains of 16-lane FMAs.
__attribute__((target("avx512f"))) double run_avx512(long iters, float* sink) {
  __m512 acc[24];
  for (auto& v : acc) v = _mm512_set1_ps(0.0f);
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  for (float v : lanes) *sink += v;
  return 2.0 * 16 * 24 * static_cast<double>(iters);
}

template <class F>
void measure(const char* name, F run, double seconds) {
  const int threads = omp_get_max_threads();
  double per_core_best = 0;
  float sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double sum_rate = 0;
#pragma omp parallel reduction(+ : sum_rate)
    {
      float s = 0;
      long iters = 1 << 16;
      double t0 = thread_cpu_s(), fl = run(iters, &s), t = thread_cpu_s() - t0;
      while (t < seconds / 10) {
        iters *= 2;
        t0 = thread_cpu_s();
        fl = run(iters, &s);
        t = thread_cpu_s() - t0;
      }
      t0 = thread_cpu_s();
      fl = 0;
      while (thread_cpu_s() - t0 < seconds) fl += run(iters, &s);
      sum_rate += fl / (thread_cpu_s() - t0);
#pragma omp critical
      sink += s;
    }
    per_core_best = std::max(per_core_best, sum_rate / threads);
  }
  std::printf("%-7s %7.1f GFLOP/s per core, %7.1f on %d threads (best of 5, thread CPU time)%s\n",
              name, per_core_best * 1e-9, per_core_best * threads * 1e-9, threads,
              sink == 12345.0f ? " " : "");
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    measure("avx2", run_avx2, seconds);
  }
  if (__builtin_cpu_supports("avx512f")) measure("avx512", run_avx512, seconds);
  return 0;
}
#else
int main() {
  std::puts("fma_peak: x86-64 only");
  return 0;
}
#endif
