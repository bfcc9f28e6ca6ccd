// The CUDA backend's host-side entry points that need no CUDA types. Defined in runtime.cu
// when libsbert is built with CUDA, and in cuda_stubs/stubs.cpp (throwing) otherwise.
#pragma once

#include <string>

namespace sbert::cuda {

int device_count();                  // 0 when no GPU or no driver; never throws
std::string device_name(int device);

}  // namespace sbert::cuda
