#include "dist/launch.h"

#include <cstdlib>
#include <string_view>

#include "core/check.h"

namespace sbert {

namespace {

int env_int(const std::function<const char*(const char*)>& getenv, const char* name, int fallback,
            int min) {
  const char* v = getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  SBERT_CHECK(end && *end == '\0' && x >= min && x <= 1 << 24, "[dist] environment variable ", name,
              "='", v, "' is not a valid count");
  return static_cast<int>(x);
}

}  // namespace

LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv) {
  LaunchInfo l;
  if (getenv("OMPI_COMM_WORLD_SIZE")) {
    l.launcher = "mpirun";
    l.size = env_int(getenv, "OMPI_COMM_WORLD_SIZE", 1, 1);
    l.rank = env_int(getenv, "OMPI_COMM_WORLD_RANK", 0, 0);
    l.local_rank = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", -1, 0);
    l.local_size = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", -1, 1);
  } else if (getenv("SLURM_PROCID") && (getenv("SLURM_STEP_NUM_TASKS") || getenv("SLURM_NTASKS"))) {
    // SLURM_STEP_NUM_TASKS is the job step's (srun's) task count; SLURM_NTASKS the allocation's,
    // which a batch script also sees: MPI_Init then disagrees and make_communicator says so.
    l.launcher = "srun";
    l.size = getenv("SLURM_STEP_NUM_TASKS") ? env_int(getenv, "SLURM_STEP_NUM_TASKS", 1, 1)
                                            : env_int(getenv, "SLURM_NTASKS", 1, 1);
    l.rank = env_int(getenv, "SLURM_PROCID", 0, 0);
    l.local_rank = env_int(getenv, "SLURM_LOCALID", -1, 0);
    l.local_size = -1;  // SLURM_TASKS_PER_NODE is a pattern ("2(x3),1"); MPI tells us
  } else if (getenv("PMI_SIZE")) {
    l.launcher = "pmi";
    l.size = env_int(getenv, "PMI_SIZE", 1, 1);
    l.rank = env_int(getenv, "PMI_RANK", 0, 0);
    l.local_rank = env_int(getenv, "MPI_LOCALRANKID", -1, 0);
    l.local_size = env_int(getenv, "MPI_LOCALNRANKS", -1, 1);
  }
  SBERT_CHECK(l.rank < l.size, "[dist] the ", l.launcher, " environment says rank ", l.rank, " of ",
              l.size, " processes");
  return l;
}

LaunchInfo detect_launch() {
  return detect_launch([](const char* name) { return std::getenv(name); });
}

}  // namespace sbert
