// Context: where and how ops run. Passed to every op; libsbert keeps no global state.
#pragma once

#include "sbert/model.h"

namespace sbert {

namespace cuda {
class Runtime;  // cuda/runtime.h: stream, cuBLASLt handle and caches of one device
}

struct Context {
  Device device = Device::CPU;
  int threads = 0;  // CPU threads for OpenMP and BLAS; 0: all cores
  // Required when device == CUDA (ops throw without it); owned by the caller, outlives the
  // Context. Ops on the GPU take DEVICE pointers and run on the runtime's stream.
  cuda::Runtime* cuda = nullptr;
  // CUDA only (trainer.precision bf16-mixed): the GEMMs and attention on bf16 tensor cores with
  // fp32 accumulation (cuda/mixed.h); the encoder keeps those ops' inputs in bf16 only
  // (nn/encoder.h, ActivationPrecision); everything else stays fp32.
  bool bf16 = false;
  // CUDA only (trainer.precision 16-mixed): the GEMMs on fp16 operands with fp32 accumulation
  // (cuda/mixed.h); attention and everything else stay fp32. Never set together with bf16.
  bool fp16 = false;
  // CUDA + bf16 only (model.attention_backend cudnn): attention through cuDNN's fused SDPA
  // (cuda/attention_cudnn.cu) instead of our bf16 kernels; the trainer refuses it elsewhere.
  bool cudnn_attention = false;
};

// ctx's Runtime; throws, naming op, when ctx is a CUDA Context without one.
cuda::Runtime& cuda_runtime(const Context& ctx, const char* op);

// A thread-count setting resolved: threads if > 0, else the machine's cores (at least 1).
int cpu_thread_count(int threads);

// Applies ctx.threads to OpenMP (for the calling thread's parallel regions), the one pool every
// CPU kernel runs on, GEMMs included (cpu/gemm.h); OpenBLAS itself is kept at 1 thread.
// Returns the thread count in effect.
int apply_cpu_threads(const Context& ctx);

}  // namespace sbert
