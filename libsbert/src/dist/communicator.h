// Communicator: the one door between a training process and its peers (data parallelism).
//
// Backends, one .cpp each, chosen by how the program was launched (dist/launch.h):
//   single  one process, no dependency: every collective is the identity (single.cpp)
//   mpi     OpenMPI/MPICH under mpirun or srun: rank, size, CPU collectives (mpi.cpp; compiled
//           when CMake finds MPI, else mpi_stub.cpp refuses a multi-process launch)
//   nccl    one process per GPU: NCCL moves the bulk buffers (gradients, embeddings) in GPU
//           memory on its own stream; MPI gives rank, size, host collectives and broadcasts the
//           NCCL unique id (nccl.cpp; compiled only with CUDA and NCCL)
//
// Two kinds of collectives:
//   host_*   small host-memory collectives (loss statistics, a checkpoint's name, checks);
//   bulk     all_reduce_sum / all_gather on buffers in memory of bulk_device() (host memory for
//            single and mpi, GPU memory for nccl).
// Every rank must call the same collectives in the same order with the same sizes.
//
// Failure: no collective waits forever. Each one gives up after `timeout` and throws
// sbert::Error("[dist] all_gather timed out after 600 s on rank 1 of 2 ..."); the app then
// calls abort(), which ends every rank of the job (MPI_Abort). A rank that is killed is noticed
// by mpirun/srun, which ends the others.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sbert/model.h"

namespace sbert {

class Communicator {
 public:
  // A started bulk all-reduce; wait() finishes it. Opaque: 0 means "nothing pending".
  using Request = int64_t;

  virtual ~Communicator() = default;
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual const char* backend() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the processes of this machine
  virtual int local_size() const = 0;
  virtual Device bulk_device() const = 0;

  // Host collectives, blocking.
  virtual void host_all_reduce_sum(double* data, int64_t n) = 0;
  virtual void host_broadcast(void* data, size_t bytes, int root) = 0;
  virtual void host_all_gather(const void* send, size_t bytes, void* recv) = 0;  // recv: size x
  virtual void barrier() = 0;

  // Bulk collectives on bulk_device() memory.
  // Starts data (n) <- sum over ranks, in place; the buffer must stay untouched until wait().
  virtual Request start_all_reduce_sum(float* data, int64_t n) = 0;
  virtual void wait(Request request) = 0;
  // Lets started requests advance without waiting (MPI progresses only inside MPI calls); the
  // gradient reducer calls it between layers. No-op where the transfer runs on its own.
  virtual void progress() {}
  // recv (size x bytes) <- every rank's send (bytes), in rank order; blocking.
  virtual void all_gather(const void* send, size_t bytes, void* recv) = 0;
  // NCCL: the compute stream (cudaStream_t) the bulk buffers are written on from now on, as
  // CommOptions::cuda_stream; a GPU trainer sets its Runtime's stream here, which exists only
  // after the communicator (null: the legacy default stream). No-op for host backends.
  virtual void set_cuda_stream(void* /*stream*/) {}

  // For apps only: ends every process of the job with this exit code (MPI_Abort). The caller
  // prints the error first. Never returns.
  [[noreturn]] virtual void abort(int code) = 0;

  // A string broadcast from root (its length first): a checkpoint's path, for instance.
  std::string host_broadcast_string(std::string s, int root);
};

struct CommOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};  // per collective
  // Several processes with gpu: bulk collectives on the GPU (NCCL), one GPU per process (the
  // local rank's). One process needs no collectives: it gets the single backend either way.
  bool gpu = false;
  void* cuda_stream = nullptr;  // NCCL: the compute stream (cudaStream_t) the bulk buffers are
                                // written on; null: the legacy default stream
};

// The communicator for this process, from how it was launched (dist/launch.h): a single
// process, or MPI (NCCL on top when options.gpu). Throws when the launch asks for several
// processes and this build cannot provide them, or when MPI disagrees with the launcher.
std::unique_ptr<Communicator> make_communicator(const CommOptions& options);

// The backends, for tests and for make_communicator.
std::unique_ptr<Communicator> make_single_communicator();
std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options);  // throws w/o MPI
// On top of an MPI (or single) communicator; throws in builds without CUDA/NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> host,
                                                     const CommOptions& options);
bool have_mpi();   // this build links MPI
bool have_nccl();  // this build links NCCL

}  // namespace sbert
