// The NCCL backend (compiled only with CUDA and NCCL): one process per GPU.
//
//   rank, size, host collectives   the host communicator it wraps (MPI, or single for 1 GPU)
//   GPU                            local_rank of the host communicator (one GPU per process)
//   unique id                      made by rank 0, broadcast over the host communicator
//   bulk collectives               NCCL on the communicator's own stream, ordered after the
//                                  work already queued on the compute stream (an event), so
//                                  gradient buckets all-reduce while backward keeps computing
//
// The NCCL communicator is non-blocking (ncclConfig_t.blocking = 0): initialisation and every
// wait poll ncclCommGetAsyncError / cudaEventQuery against the timeout; on timeout or an
// asynchronous NCCL error the communicator is aborted (ncclCommAbort) and an error thrown.
//
// Status: compiles in CUDA builds; under the SIMT emulator two in-process ranks run through it
// (tests/cuda/test_emu_nccl_ranks.cpp, and two GPU trainer ranks in test_cuda_finetune_ranks.cpp);
// tests/cuda/test_nccl.cpp (one GPU, tests/gpu/run.sh) has not run on a GPU yet, and no
// multi-GPU run has happened.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <unordered_map>

#include "core/check.h"
#include "dist/communicator.h"
#include "dist/poll.h"

#define SBERT_CUDA_CALL(stmt)                                                       \
  do {                                                                              \
    const cudaError_t e_ = (stmt);                                                  \
    if (e_ != cudaSuccess)                                                          \
      ::sbert::fail("[dist] ", #stmt, " failed at ", __FILE__, ":", __LINE__, ": ", \
                    cudaGetErrorString(e_));                                        \
  } while (0)

namespace sbert {

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> host, const CommOptions& opt)
      : host_(std::move(host)),
        timeout_(opt.timeout),
        compute_(static_cast<cudaStream_t>(opt.cuda_stream)) {
    int devices = 0;
    SBERT_CUDA_CALL(cudaGetDeviceCount(&devices));
    SBERT_CHECK(devices > 0, "[dist] NCCL backend: no GPU visible on rank ", host_->rank());
    SBERT_CHECK(host_->local_size() <= devices, "[dist] ", host_->local_size(),
                " processes on this machine but ", devices,
                " GPUs visible: one process per GPU (trainer.devices)");
    device_ = host_->local_rank();
    SBERT_CUDA_CALL(cudaSetDevice(device_));
    SBERT_CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SBERT_CUDA_CALL(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));

    ncclUniqueId id{};
    if (host_->rank() == 0) nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host_->host_broadcast(&id, sizeof id, 0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    nccl(ncclCommInitRankConfig(&comm_, host_->size(), id, host_->rank(), &config),
         "ncclCommInitRankConfig");
    settle("ncclCommInitRank");
  }

  ~NcclCommunicator() override {
    for (auto& [id, ev] : pending_) cudaEventDestroy(ev);
    if (comm_) {
      if (broken_) {
        ncclCommAbort(comm_);
      } else {
        ncclCommFinalize(comm_);
        settle_quietly();
        ncclCommDestroy(comm_);
      }
    }
    if (ready_) cudaEventDestroy(ready_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  const char* backend() const override { return "nccl"; }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int local_rank() const override { return host_->local_rank(); }
  int local_size() const override { return host_->local_size(); }
  Device bulk_device() const override { return Device::CUDA; }

  void host_all_reduce_sum(double* data, int64_t n) override {
    host_->host_all_reduce_sum(data, n);
  }
  void host_broadcast(void* data, size_t bytes, int root) override {
    host_->host_broadcast(data, bytes, root);
  }
  void host_all_gather(const void* send, size_t bytes, void* recv) override {
    host_->host_all_gather(send, bytes, recv);
  }
  void barrier() override { host_->barrier(); }

  Request start_all_reduce_sum(float* data, int64_t n) override {
    SBERT_CHECK(n >= 0, "[dist] all_reduce of ", n, " floats");
    after_compute();
    nccl(ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat32, ncclSum, comm_, stream_),
         "ncclAllReduce");
    settle("ncclAllReduce");
    cudaEvent_t done = nullptr;
    SBERT_CUDA_CALL(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    SBERT_CUDA_CALL(cudaEventRecord(done, stream_));
    const Request id = ++last_request_;
    pending_.emplace(id, done);
    return id;
  }

  void wait(Request request) override {
    if (request == 0) return;
    auto it = pending_.find(request);
    SBERT_CHECK(it != pending_.end(), "[dist] wait on unknown request ", request);
    cudaEvent_t done = it->second;
    pending_.erase(it);
    wait_event(done, "all_reduce (gradients)");
    cudaEventDestroy(done);
  }

  void all_gather(const void* send, size_t bytes, void* recv) override {
    after_compute();
    nccl(ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream_), "ncclAllGather");
    settle("ncclAllGather");
    cudaEvent_t done = nullptr;
    SBERT_CUDA_CALL(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    SBERT_CUDA_CALL(cudaEventRecord(done, stream_));
    wait_event(done, "all_gather");
    cudaEventDestroy(done);
  }

  void set_cuda_stream(void* stream) override { compute_ = static_cast<cudaStream_t>(stream); }

  [[noreturn]] void abort(int code) override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    host_->abort(code);
    std::_Exit(code);  // not reached: the host's abort ends the process
  }

 private:
  void nccl(ncclResult_t r, const char* what) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    broken_ = true;
    fail("[dist] ", what, " failed on rank ", rank(), " of ", size(), ": ", ncclGetErrorString(r),
         " (", ncclGetLastError(comm_), ")");
  }

  // A non-blocking communicator's call may still be in progress: poll until it is not.
  void settle(const char* what) {
    ncclResult_t state = ncclInProgress;
    const bool done = poll_until(
        [&] {
          ncclCommGetAsyncError(comm_, &state);
          return state != ncclInProgress;
        },
        timeout_);
    if (!done) timed_out(what);
    nccl(state, what);
  }

  void settle_quietly() {
    ncclResult_t state = ncclInProgress;
    poll_until(
        [&] {
          ncclCommGetAsyncError(comm_, &state);
          return state != ncclInProgress;
        },
        timeout_);
  }

  // The bulk buffers are written by kernels on the compute stream: order NCCL after them.
  void after_compute() {
    SBERT_CUDA_CALL(cudaEventRecord(ready_, compute_));
    SBERT_CUDA_CALL(cudaStreamWaitEvent(stream_, ready_, 0));
  }

  void wait_event(cudaEvent_t ev, const char* what) {
    cudaError_t q = cudaErrorNotReady;
    ncclResult_t async = ncclSuccess;
    const bool done = poll_until(
        [&] {
          q = cudaEventQuery(ev);
          ncclCommGetAsyncError(comm_, &async);
          return q != cudaErrorNotReady || (async != ncclSuccess && async != ncclInProgress);
        },
        timeout_);
    if (!done) timed_out(what);
    nccl(async, what);
    SBERT_CHECK(q == cudaSuccess, "[dist] ", what, " on rank ", rank(), ": ",
                cudaGetErrorString(q));
  }

  [[noreturn]] void timed_out(const char* what) {
    broken_ = true;
    ncclCommAbort(comm_);
    comm_ = nullptr;
    fail("[dist] ", what, " timed out after ", timeout_.count() / 1000.0, " s on rank ", rank(),
         " of ", size(),
         ": another rank failed, was killed or is stuck (timeout: trainer.dist_timeout_sec)");
  }

  std::unique_ptr<Communicator> host_;
  std::chrono::milliseconds timeout_;
  cudaStream_t compute_ = nullptr;  // null: the legacy default stream
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  ncclComm_t comm_ = nullptr;
  int device_ = 0;
  bool broken_ = false;
  Request last_request_ = 0;
  std::unordered_map<Request, cudaEvent_t> pending_;
};

}  // namespace

bool have_nccl() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> host,
                                                     const CommOptions& options) {
  SBERT_CHECK(host != nullptr, "[dist] NCCL backend: no host communicator");
  return std::make_unique<NcclCommunicator>(std::move(host), options);
}

}  // namespace sbert
