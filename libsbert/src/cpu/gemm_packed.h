// Our own fp32 GEMM (BLIS-style): C (m, n) = op(A) (m, k) . op(B) (k, n) [+ C], with op(B)
// packed into the micro-kernel's panels (once at load for inference weights, or per call) and
// the element-wise work of nn.Linear fused into the store (bias, bias + exact GELU, residual).
//
// Micro-kernels, chosen once at run time from the CPU (cpuid): AVX-512F 12 x 32, AVX2 + FMA
// 6 x 16, and a portable C++ 4 x 16 fallback. fp32 accumulation throughout.
//
// Determinism: every element of C is computed by the same sequence of operations whatever the
// thread count or where its tile falls (edge tiles run the full kernel on a zero-padded copy),
// so results depend only on the ISA (FMA kernels round differently from the fallback) and
// the blocking constants: bitwise the same for any thread count on one machine kind.
#pragma once

#include <cstdint>
#include <memory>

namespace sbert::cpu {

enum class GemmIsa { Generic, Avx2, Avx512 };

const char* gemm_isa_name(GemmIsa isa);
bool gemm_isa_supported(GemmIsa isa);
GemmIsa gemm_best_isa();  // the fastest the CPU supports, detected once

// What the store does after the sum, in this order:
//   v = sum [+ C if accumulate] [+ bias[j]];  pre[i, j] = v (if pre);  v = gelu(v) (if gelu);
//   v += residual[i, j] (if residual);  C[i, j] = v
struct GemmEpilogue {
  const float* bias = nullptr;      // (n)
  bool gelu = false;                // exact erf GELU, as cpu/gelu.cpp (cpu/fast_math.h)
  float* pre = nullptr;             // (m, ldc) the pre-activation, kept for the backward
  const float* residual = nullptr;  // (m, ldr)
  int64_t ldr = 0;
};

// op(B) (k, n) in panels of nr columns, each k x nr row-major, the last one zero-padded.
class PackedB {
 public:
  PackedB() = default;
  // op(B) = B (k, n) with row stride ldb, or, trans_b, B^T with B (n, k): an nn.Linear weight.
  PackedB(GemmIsa isa, bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);

  GemmIsa isa() const { return isa_; }
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int nr() const { return nr_; }
  const float* panel(int64_t p) const { return data_.get() + p * k_ * nr_; }  // (k, nr)

  struct Free {  // std::free of the 64-byte aligned blocks
    void operator()(float* p) const;
  };

 private:
  GemmIsa isa_ = GemmIsa::Generic;
  int64_t k_ = 0, n_ = 0;
  int nr_ = 0;
  std::unique_ptr<float[], Free> data_;  // 64-byte aligned
};

// C (m, n) = op(A) . B [+ C when accumulate], then the epilogue. op(A) = A (m, k) with row
// stride lda, or, trans_a, A^T with A (k, m). Splits C over the OpenMP threads (runs on the
// calling thread alone inside a parallel region).
void sgemm_packed(bool trans_a, int64_t m, const float* a, int64_t lda, const PackedB& b,
                  bool accumulate, float* c, int64_t ldc, const GemmEpilogue& ep = {});

}  // namespace sbert::cpu
