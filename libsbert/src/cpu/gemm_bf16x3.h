// fp32 nn.Linear forward on AMX bf16 tiles: "bf16x3", what PyTorch's
// torch.set_float32_matmul_precision("high") names (docs/quantization.md, "Matmul precision").
// Inference only; weights and activations stay fp32, only the products are split:
//   x = hi(x) + lo(x) + r,  hi = bf16(x), lo = bf16(x - hi) (both round to nearest even),
//   |x - hi| <= 2^-9 |x|, |r| <= 2^-9 |x - hi| <= 2^-18 |x|;
//   x w ~= lo(x) hi(w) + hi(x) lo(w) + hi(x) hi(w),
// each product exact in fp32 (8 x 8 significant bits) and summed in fp32 by TDPBF16PS. The
// dropped terms (lo lo and those of r) are at most about 3 * 2^-18 |x w|: per product a few
// units of fp32's last place more than an fp32 FMA makes, where bf16 alone makes 2^-9.
//
// The weights are split and packed once (SplitWeight); the activations are split per call, a
// block of rows and a chunk of k at a time, into the scratch; the three products of a 32-k
// group share their tile loads (cpu/gemm_bf16x3.cpp has the blocking).
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned.h"

namespace sbert::cpu {

// Whether this process can run AMX bf16 tiles (AMX-TILE, AMX-BF16, the OS's tile state and
// Linux's per-process permission, asked here), with AVX-512 for the split and the epilogue.
bool bf16x3_usable();

struct SplitWeight {
  int64_t n = 0, k = 0;
  int64_t kp = 0;  // k rounded up to a multiple of 32
  int64_t np = 0;  // n rounded up to a multiple of 32 (two 16-column panels)
  // (np / 16, 2 kp / 32, 16, 16, 2) bf16 bits: per panel of 16 columns, one AMX B tile per
  // step (16 rows of k pairs, 16 columns, 2 k); steps 2 g and 2 g + 1 of k group g hold hi(w)
  // and lo(w).
  AlignedVector<uint16_t> packed;
};

// Splits and packs an nn.Linear weight w (n, k) row-major.
SplitWeight split_weight(const float* w, int64_t n, int64_t k);

// Per-thread work buffers of bf16x3_linear_forward, reused across calls.
struct SplitScratch {
  AlignedVector<uint16_t> a;  // a block's split activations, one chunk of k
  AlignedVector<float> c;     // a block's sums between chunks (k > 384 only)
  AlignedVector<float> bias;  // the bias padded to np columns
};

// out (rows, n) = x (rows, k) . W^T + bias (may be null), then the erf GELU of
// cpu/fast_math.h when gelu. OpenMP over blocks of rows; the result does not depend on the
// thread count. Throws when !bf16x3_usable().
void bf16x3_linear_forward(float* out, const float* x, const SplitWeight& w, const float* bias,
                           int64_t rows, SplitScratch& scratch, bool gelu = false);

// The same three products summed in double, then rounded to float (bias and GELU as above):
// the reference the tests hold the AMX kernel to (they differ by fp32 summation order only).
void bf16x3_linear_reference(float* out, const float* x, const float* w, const float* bias,
                             int64_t rows, int64_t k, int64_t n, bool gelu = false);

}  // namespace sbert::cpu
