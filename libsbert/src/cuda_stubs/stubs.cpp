// CPU-only build: the CUDA backend's entry points throw a clear error.
#include "core/check.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

int device_count() { return 0; }

std::string device_name(int /*device*/) {
  fail("[cuda] libsbert was built without CUDA (configure with -DSBERT_CUDA=ON)");
}

}  // namespace sbert::cuda
