#include "core/context.h"

#include <cblas.h>
#include <omp.h>

#include <thread>

#include "core/check.h"

namespace sbert {

cuda::Runtime& cuda_runtime(const Context& ctx, const char* op) {
  SBERT_CHECK(ctx.cuda != nullptr, "[", op,
              "] device cuda needs a CUDA runtime (cuda::Runtime) in the Context, and this caller "
              "has none");
  return *ctx.cuda;
}

int cpu_thread_count(int threads) {
  if (threads > 0) return threads;
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

int apply_cpu_threads(const Context& ctx) {
  const int n = cpu_thread_count(ctx.threads);
  omp_set_num_threads(n);
  // One thread pool: the kernels split every GEMM over the OpenMP threads themselves
  // (cpu/gemm.h); OpenBLAS's own workers would spin on the cores the OpenMP loops need.
  openblas_set_num_threads(1);
  return n;
}

}  // namespace sbert
