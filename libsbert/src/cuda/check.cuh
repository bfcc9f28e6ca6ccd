// Error checks of the CUDA backend: every CUDA / cuBLASLt call and every kernel launch goes
// through one of these, which throw sbert::Error naming the statement, its error, file and line.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "core/check.h"

#define SBERT_CUDA_CHECK(stmt)                                                                 \
  do {                                                                                         \
    const cudaError_t sbert_e_ = (stmt);                                                       \
    if (sbert_e_ != cudaSuccess) {                                                             \
      ::sbert::fail("[cuda] ", #stmt, ": ", cudaGetErrorString(sbert_e_), " (", __FILE__, ":", \
                    __LINE__, ")");                                                            \
    }                                                                                          \
  } while (0)

#define SBERT_CUBLAS_CHECK(stmt)                                                                  \
  do {                                                                                            \
    const cublasStatus_t sbert_s_ = (stmt);                                                       \
    if (sbert_s_ != CUBLAS_STATUS_SUCCESS) {                                                      \
      ::sbert::fail("[cublasLt] ", #stmt, ": status ", static_cast<int>(sbert_s_), " (",          \
                    ::sbert::cuda::cublasLt_status_name(sbert_s_), ", ", __FILE__, ":", __LINE__, \
                    ")");                                                                         \
    }                                                                                             \
  } while (0)

// After a <<<...>>> launch: reports bad launch configurations at once (errors inside the
// kernel surface at the next synchronizing call, e.g. Runtime::synchronize).
#define SBERT_LAUNCH_CHECK(op)                                                               \
  do {                                                                                       \
    const cudaError_t sbert_e_ = cudaGetLastError();                                         \
    if (sbert_e_ != cudaSuccess) {                                                           \
      ::sbert::fail("[", op, "] kernel launch failed: ", cudaGetErrorString(sbert_e_), " (", \
                    __FILE__, ":", __LINE__, ")");                                           \
    }                                                                                        \
  } while (0)

namespace sbert::cuda {

inline const char* cublasLt_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "alloc failed";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "arch mismatch";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "not supported";
    default:
      return "other";
  }
}

// Grid size for n work items of `per_block` each, checked against CUDA's x-dimension limit.
inline unsigned grid_for(int64_t n, int64_t per_block, const char* op) {
  const int64_t g = (n + per_block - 1) / per_block;
  SBERT_CHECK(g >= 0 && g <= 2147483647, "[", op, "] grid of ", g, " blocks is too large");
  return static_cast<unsigned>(g > 0 ? g : 1);
}

}  // namespace sbert::cuda
