// The micro-kernels of cpu/gemm_packed.h, one file per instruction set (gemm_avx512.cpp,
// gemm_avx2.cpp compiled for their target by function attributes; gemm_generic.cpp baseline).
//
// A kernel computes one MR x NR tile of C over kc steps of k from the packed panels
//   a (kc, MR): kc steps of MR values of op(A)'s rows,  b (kc, NR): kc steps of NR columns,
// accumulating in registers from zero, then C = acc (+ C when load_c). The epilogue runs on a
// finished tile while it is still in L1.
#pragma once

#include <cstdint>

#include "cpu/fast_math.h"
#include "cpu/gemm_packed.h"

namespace sbert::cpu::gemm_detail {

struct Blocking {
  int mr, nr;      // micro-tile
  int64_t mc, kc;  // op(A) block (mc, kc) packed per thread, sized for L2
  int64_t nc;      // op(B) columns per outer block
};

using KernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                          bool load_c);
// Applies the epilogue to rows [0, rows) and columns [0, cols) of a tile whose element (0, 0)
// is C[row0, col0].
using EpilogueFn = void (*)(float* c, int64_t ldc, int rows, int cols, const GemmEpilogue& ep,
                            int64_t row0, int64_t col0);

struct Kernels {
  Blocking blk;
  KernelFn kernel;
  EpilogueFn epilogue;
};

Kernels kernels_generic();
Kernels kernels_avx2();    // only on x86-64 (else same as generic)
Kernels kernels_avx512();  // only on x86-64 (else same as generic)

// The epilogue loop, inlined into each kernel file so that it is compiled for its target.
[[gnu::always_inline]] inline void epilogue_rows(float* c, int64_t ldc, int rows, int cols,
                                                 const GemmEpilogue& ep, int64_t row0,
                                                 int64_t col0) {
  const float* bias = ep.bias ? ep.bias + col0 : nullptr;
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    if (bias) {
#pragma omp simd
      for (int j = 0; j < cols; ++j) row[j] += bias[j];
    }
    if (ep.gelu) {
      if (ep.pre) {
        float* pre = ep.pre + (row0 + i) * ldc + col0;
        for (int j = 0; j < cols; ++j) pre[j] = row[j];
      }
#pragma omp simd
      for (int j = 0; j < cols; ++j) row[j] = gelu_erf(row[j]);
    }
    if (ep.residual) {
      const float* res = ep.residual + (row0 + i) * ep.ldr + col0;
#pragma omp simd
      for (int j = 0; j < cols; ++j) row[j] += res[j];
    }
  }
}

}  // namespace sbert::cpu::gemm_detail
