// The AVX2 + FMA micro-kernel of cpu/gemm_packed.h: a 6 x 16 tile in 12 ymm accumulators,
// two loads of b and six broadcasts of a per step of k. Compiled for AVX2 + FMA by a target
// pragma (the library itself is built for baseline x86-64); called only where cpuid says so.
#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// clang has no target pragma: its attribute pragma gives every function below the same target.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace sbert::cpu::gemm_detail {

namespace {

constexpr int kMr = 6, kNr = 16;

void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool load_c) {
  __m256 acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p, a += kMr, b += kNr) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    if (load_c) {
      acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
      acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[i][0]);
    _mm256_storeu_ps(row + 8, acc[i][1]);
  }
}

void epilogue(float* c, int64_t ldc, int rows, int cols, const GemmEpilogue& ep, int64_t row0,
              int64_t col0) {
  epilogue_rows(c, ldc, rows, cols, ep, row0, col0);
}

}  // namespace

Kernels kernels_avx2() { return {{kMr, kNr, 48, 768, 1536}, kernel, epilogue}; }

}  // namespace sbert::cpu::gemm_detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else
namespace sbert::cpu::gemm_detail {
Kernels kernels_avx2() { return kernels_generic(); }
}  // namespace sbert::cpu::gemm_detail
#endif
