// The portable micro-kernel of cpu/gemm_packed.h: plain C++ that GCC vectorizes for the
// baseline target (SSE2, no FMA), for CPUs without AVX2 and for other architectures.
#include "cpu/gemm_kernels.h"

namespace sbert::cpu::gemm_detail {

namespace {

constexpr int kMr = 4, kNr = 16;

void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool load_c) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p, a += kMr, b += kNr) {
    for (int i = 0; i < kMr; ++i) {
      const float ai = a[i];
#pragma omp simd
      for (int j = 0; j < kNr; ++j) acc[i][j] += ai * b[j];
    }
  }
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    if (load_c) {
      for (int j = 0; j < kNr; ++j) row[j] = acc[i][j] + row[j];
    } else {
      for (int j = 0; j < kNr; ++j) row[j] = acc[i][j];
    }
  }
}

void epilogue(float* c, int64_t ldc, int rows, int cols, const GemmEpilogue& ep, int64_t row0,
              int64_t col0) {
  epilogue_rows(c, ldc, rows, cols, ep, row0, col0);
}

}  // namespace

Kernels kernels_generic() { return {{kMr, kNr, 64, 512, 1024}, kernel, epilogue}; }

}  // namespace sbert::cpu::gemm_detail
