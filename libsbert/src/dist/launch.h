// How this process was launched, read from the environment before any MPI call:
//   mpirun (OpenMPI)   OMPI_COMM_WORLD_SIZE / _RANK / _LOCAL_RANK / _LOCAL_SIZE
//   srun (Slurm)       SLURM_STEP_NUM_TASKS (else SLURM_NTASKS) / SLURM_PROCID / SLURM_LOCALID
//   PMI (MPICH, Intel) PMI_SIZE / PMI_RANK
// None of them: one process. Only a launch with more than one process needs MPI.
#pragma once

#include <functional>
#include <string>

namespace sbert {

struct LaunchInfo {
  std::string launcher = "none";  // "none", "mpirun", "srun", "pmi"
  int size = 1;
  int rank = 0;
  int local_rank = 0;  // -1: unknown
  int local_size = 1;  // -1: unknown
  bool multi_process() const { return size > 1; }
};

// getenv: the variable's value or nullptr (a parameter so that tests need not touch the
// process environment).
LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv);
LaunchInfo detect_launch();  // from the process environment

}  // namespace sbert
