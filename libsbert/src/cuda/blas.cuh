// cuBLASLt behind a small RAII class: fp32 GEMMs, or bf16 x bf16 / fp16 x fp16 with fp32
// accumulation and output (the mixed-precision paths), with an optional bias epilogue.
// The plan of a shape (descriptors + the heuristic's algorithm) is built on the first call and
// cached, so a training step does no heuristic queries after the first one, and a given shape
// always runs the same algorithm (cuBLASLt is then bitwise reproducible on one GPU model).
//
// Column-major, as cuBLAS: C (m, n) = op(A) op(B) [+ bias (m), broadcast over columns]
// (+ C when accumulate). Row-major callers swap operands (cuda/matmul.cu).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

namespace sbert::cuda {

struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool accumulate = false;  // beta = 1 (C += ...) instead of beta = 0
  bool bias = false;        // CUBLASLT_EPILOGUE_BIAS: bias (m) added to every column
  bool bf16 = false;        // A and B bf16 (C, D and the bias stay fp32; fp32 accumulation)
  bool fp16 = false;        // A and B fp16 (IEEE half), likewise; never with bf16
};

class Blas {
 public:
  explicit Blas(size_t workspace_bytes = size_t{32} << 20);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // bias: null unless shape.bias. Pointers are device pointers; their alignment is part of
  // the plan's key (views into the parameter block are not always 16-byte aligned).
  // A and B: float, or bf16 (fp16) bits when shape.bf16 (shape.fp16).
  void gemm(cudaStream_t stream, const GemmShape& shape, const void* A, const void* B, float* C,
            const float* bias);

  size_t plans() const { return plans_.size(); }

 private:
  struct Plan;
  using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool,
                         bool, bool, bool, unsigned, unsigned, unsigned, unsigned>;
  Plan& plan(const GemmShape& s, unsigned align_a, unsigned align_b, unsigned align_c,
             unsigned align_bias);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace sbert::cuda
