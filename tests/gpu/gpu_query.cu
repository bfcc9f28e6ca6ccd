// sbert-gpu-query: the device check that opens DIR/run.sh (tests/gpu/bundle.sh builds it).
// Linked against the static CUDA runtime (nvcc's default), so it needs only the NVIDIA driver's
// libcuda.so.1: it answers even where CUDA's runtime libraries are missing or can't be found.
//   one or more devices: one line per device, exit 0
//   none (no driver, no device, driver too old): ONE line containing "no CUDA device", exit 1
#include <cuda_runtime.h>

#include <dlfcn.h>

#include <cstdio>

int main() {
  // The runtime's own error for a missing driver ("driver version is insufficient") misleads.
  if (dlopen("libcuda.so.1", RTLD_LAZY) == nullptr) {
    std::printf("no CUDA device (no NVIDIA driver: libcuda.so.1 not found)\n");
    return 1;
  }
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess || n == 0) {
    std::printf("no CUDA device (cudaGetDeviceCount: %s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 1;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  for (int d = 0; d < n; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
      std::printf("device %d: cudaGetDeviceProperties failed\n", d);
      continue;
    }
    // The bundle carries machine code for sm_80 and sm_90a and PTX for compute_80 (JIT-compiled
    // by the driver on other architectures: slower first launches, same results).
    const int cc = p.major * 10 + p.minor;
    const char* code = cc == 80 ? "sm_80 machine code" : cc == 90 ? "sm_90a machine code"
                       : cc >= 80                      ? "compute_80 PTX, JIT-compiled"
                                                       : "UNSUPPORTED (needs sm_80 or newer)";
    std::printf("device %d: %s, sm_%d, %.1f GiB, %d SMs, driver %d.%d, runtime %d.%d: %s\n", d,
                p.name, cc, static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                p.multiProcessorCount, driver / 1000, (driver % 1000) / 10, runtime / 1000,
                (runtime % 1000) / 10, code);
  }
  return 0;
}
