// Runtime::Impl: the CUDA objects behind cuda::Runtime (only .cu files of cuda/ see it).
#pragma once

#include <cuda_runtime.h>

#include "cuda/blas.cuh"
#include "cuda/runtime.h"

namespace sbert::cuda {

struct Runtime::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  Blas blas;
  void* scratch = nullptr;  // reduction partials; grows to the largest request
  size_t scratch_bytes = 0;

  // A device block of at least `bytes`, valid until the next call (stream-ordered use only).
  void* scratch_for(size_t bytes);

  // Blocks for the bf16 copies of a mixed-precision op's operands (cuda/mixed.h): slot i holds
  // at least `bytes` until the next request of slot i. Grown (the stream synchronized first),
  // never shrunk: after the largest step, no allocation.
  static constexpr int kWorkspaceSlots = 4;
  void* workspace[kWorkspaceSlots] = {};
  size_t workspace_bytes[kWorkspaceSlots] = {};
  void* workspace_for(int slot, size_t bytes);
};

}  // namespace sbert::cuda
