// Builds without MPI: one process only; a multi-process launch is refused with a clear error.
#include "core/check.h"
#include "dist/communicator.h"

namespace sbert {

bool have_mpi() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& /*options*/) {
  fail("[dist] this libsbert was built without MPI (install libopenmpi-dev and reconfigure)");
}

}  // namespace sbert
