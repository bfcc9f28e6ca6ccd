// Runtime::Impl: the CUDA objects behind cuda::Runtime (only .cu files of cuda/ see it).
#pragma once

#include <cuda_runtime.h>

#include <memory>

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

  // bf16-mixed: the bf16 copy of the fp32 parameter block (bind_bf16_weights in cuda/mixed.h).
  // A weight inside [weight_block, weight_block + weight_count) is read by the bf16 GEMMs from
  // the copy at the same offset; others are rounded into workspace slot 1 at each use.
  const float* weight_block = nullptr;
  int64_t weight_count = 0;
  uint16_t* weight_copy = nullptr;  // (weight_count), owned
  bool weight_copy_fresh = false;   // refreshed since bound
  int64_t weight_casts = 0;         // weights rounded at a GEMM instead (bf16_weight_casts)
  // The copy of w[0, count) when it lies inside the block, else null; throws when the copy
  // was bound but never refreshed.
  const uint16_t* weight_copy_of(const float* w, int64_t count) const;

  // model.attention_backend cudnn (cuda/attention_cudnn.cu): its cuDNN handle, plan cache and
  // buffers, made at the first call, opaque here; released before the stream.
  std::shared_ptr<void> cudnn;
};

}  // namespace sbert::cuda
