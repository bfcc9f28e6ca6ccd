// cuBLASLt behind a small RAII class: fp32 GEMMs, or bf16 x bf16 / fp16 x fp16 with fp32
// accumulation and output (the mixed-precision paths), with an optional bias epilogue, and the
// GELU and bias-gradient epilogues of bf16-mixed's FFN (GemmEpilogue).
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

// The fused epilogues beyond `bias` (cuBLASLt's rules, which the SIMT emulator enforces, in its
// cublaslt.cpp). GELU is cuBLASLt's tanh form. aux: fp32 (m, n) with GemmShape::aux_ld, a
// multiple of 8 and >= m; bias pointers and aux 16-byte aligned (the plan assumes it).
enum class GemmEpilogue {
  None,         // as `bias` says
  GeluBias,     // D = gelu(AB + bias)
  GeluAuxBias,  // aux = AB + bias, D = gelu(aux)
  DGeluBGrad,   // D = AB * gelu'(aux); bias_grad (m) = the row sums of D (written, not added)
  DGelu,        // D = AB * gelu'(aux)
  BGradB,       // D = AB; bias_grad (n) = the column sums of op(B) over k: op(B) must be B^T
};

// The epilogue's operands (device pointers): what GemmEpilogue / GemmShape::bias name.
struct GemmEpilogueIo {
  const float* bias = nullptr;  // BIAS, GeluBias, GeluAuxBias
  float* bias_grad = nullptr;   // DGeluBGrad, BGradB
  float* aux = nullptr;         // GeluAuxBias (written), DGelu / DGeluBGrad (read)
};

// The type of a GEMM's A and B.
enum class GemmOperands { F32, BF16, FP16 };

struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool accumulate = false;  // beta = 1 (C += ...) instead of beta = 0
  bool bias = false;        // CUBLASLT_EPILOGUE_BIAS: bias (m) added to every column
  // A and B fp32, or bf16 / fp16 (IEEE half) bits (C, D and the bias stay fp32; fp32
  // accumulation either way)
  GemmOperands operands = GemmOperands::F32;
  GemmEpilogue epilogue = GemmEpilogue::None;  // not None: `bias` must be false
  int64_t aux_ld = 0;                          // the epilogues with aux
};

class Blas {
 public:
  explicit Blas(size_t workspace_bytes = size_t{32} << 20);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // bias: null unless shape.bias. Pointers are device pointers; their alignment is part of
  // the plan's key (views into the parameter block are not always 16-byte aligned).
  // A and B: float, or bf16 (fp16) bits per shape.operands.
  void gemm(cudaStream_t stream, const GemmShape& shape, const void* A, const void* B, float* C,
            const float* bias);
  // The same with shape.epilogue's operands.
  void gemm(cudaStream_t stream, const GemmShape& shape, const void* A, const void* B, float* C,
            const GemmEpilogueIo& io);
  // Whether cuBLASLt has an algorithm for gemm(shape, A, B, C, io) (planned now, remembered):
  // false where it lacks a fused epilogue for these types, so the caller runs it unfused.
  bool has_algorithm(const GemmShape& shape, const void* A, const void* B, const float* C,
                     const GemmEpilogueIo& io);

  size_t plans() const { return plans_.size(); }

 private:
  struct Plan;
  using Key =
      std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool,
                 GemmOperands, unsigned, unsigned, unsigned, unsigned, GemmEpilogue, int64_t>;
  Plan& plan(const GemmShape& s, unsigned align_a, unsigned align_b, unsigned align_c,
             unsigned align_bias);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace sbert::cuda
