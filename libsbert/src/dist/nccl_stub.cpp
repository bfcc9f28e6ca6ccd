// Builds without CUDA or NCCL: GPU collectives are refused with a clear error.
#include "core/check.h"
#include "dist/communicator.h"

namespace sbert {

bool have_nccl() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> /*host*/,
                                                     const CommOptions& /*options*/) {
  fail(
      "[dist] this libsbert was built without NCCL (configure with CUDA and NCCL for "
      "multi-GPU training)");
}

}  // namespace sbert
