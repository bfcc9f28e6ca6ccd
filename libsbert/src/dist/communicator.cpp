#include "dist/communicator.h"

#include <cstdint>

#include "core/check.h"
#include "dist/launch.h"

namespace sbert {

std::string Communicator::host_broadcast_string(std::string s, int root) {
  uint64_t n = s.size();
  host_broadcast(&n, sizeof n, root);
  s.resize(n);
  if (n > 0) host_broadcast(s.data(), n, root);
  return s;
}

std::unique_ptr<Communicator> make_communicator(const CommOptions& options) {
  const LaunchInfo launch = detect_launch();
  std::unique_ptr<Communicator> comm;
  if (launch.multi_process()) {
    SBERT_CHECK(have_mpi(), "[dist] launched by ", launch.launcher, " as rank ", launch.rank,
                " of ", launch.size,
                " processes, but this libsbert was built without MPI (install libopenmpi-dev "
                "and reconfigure)");
    comm = make_mpi_communicator(options);
    SBERT_CHECK(comm->size() == launch.size && comm->rank() == launch.rank, "[dist] ",
                launch.launcher, " says rank ", launch.rank, " of ", launch.size,
                " processes but MPI says rank ", comm->rank(), " of ", comm->size(),
                " (inside a Slurm batch script, start the processes with srun)");
  } else {
    return make_single_communicator();
  }
  if (options.gpu) comm = make_nccl_communicator(std::move(comm), options);
  return comm;
}

}  // namespace sbert
