// Context: where and how ops run. Passed to every op; libsbert keeps no global state.
#pragma once

#include "sbert/model.h"

namespace sbert {

struct Context {
  Device device = Device::CPU;
  int threads = 0;  // CPU threads for OpenMP and BLAS; 0: all cores
};

// Applies ctx.threads to OpenMP (for the calling thread's parallel regions), the one pool every
// CPU kernel runs on, GEMMs included (cpu/gemm.h); OpenBLAS itself is kept at 1 thread.
// Returns the thread count in effect.
int apply_cpu_threads(const Context& ctx);

}  // namespace sbert
