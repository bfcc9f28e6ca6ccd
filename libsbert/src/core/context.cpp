#include "core/context.h"

#include <cblas.h>
#include <omp.h>

#include <thread>

namespace sbert {

int apply_cpu_threads(const Context& ctx) {
  int n = ctx.threads > 0 ? ctx.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
  // One thread pool: the kernels split every GEMM over the OpenMP threads themselves
  // (cpu/gemm.h); OpenBLAS's own workers would spin on the cores the OpenMP loops need.
  openblas_set_num_threads(1);
  return n;
}

}  // namespace sbert
