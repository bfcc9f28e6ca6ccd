#include <cuda_runtime.h>

#include "core/check.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  cudaError_t e = cudaGetDeviceProperties(&prop, device);
  SBERT_CHECK(e == cudaSuccess, "[cuda] device ", device, ": ", cudaGetErrorString(e));
  return prop.name;
}

}  // namespace sbert::cuda
