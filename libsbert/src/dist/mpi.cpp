// The MPI backend (compiled when CMake finds MPI): CPU collectives over MPI_COMM_WORLD.
//
// Every collective is the non-blocking MPI-3 form (MPI_Iallreduce, MPI_Iallgather, MPI_Ibcast,
// MPI_Ibarrier) completed by polling MPI_Test against a deadline, so a rank whose peer died or
// hangs throws after the timeout instead of blocking forever. Errors come back as codes
// (MPI_ERRORS_RETURN) and are thrown with MPI's own text.
//
// MPI is initialised with MPI_THREAD_FUNNELED: only the thread that built the communicator
// calls MPI; OpenMP threads never do. MPI_Finalize runs in the destructor unless a collective
// failed or timed out, or an exception is unwinding: finalize is collective in OpenMPI and
// would hang on a dead peer, and exiting without it makes mpirun end the job.
// Only the C API: keep the deprecated C++ bindings (and their warnings) out.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <unordered_map>
#include <vector>

#include "core/check.h"
#include "dist/communicator.h"
#include "dist/poll.h"

namespace sbert {

namespace {

std::string mpi_error_text(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return cat("MPI error ", code);
  return std::string(buf, static_cast<size_t>(len));
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& opt) : timeout_(opt.timeout) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      SBERT_CHECK(provided >= MPI_THREAD_FUNNELED, "[dist] MPI provides thread level ", provided,
                  ", libsbert needs FUNNELED");
      own_init_ = true;
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // Errors on our communicator return codes (thrown below) instead of aborting silently.
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    MPI_Comm local;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized || broken_ || std::uncaught_exceptions() > 0) return;
    MPI_Comm_free(&comm_);
    if (own_init_) MPI_Finalize();
  }

  const char* backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  Device bulk_device() const override { return Device::CPU; }

  void host_all_reduce_sum(double* data, int64_t n) override {
    SBERT_CHECK(n >= 0 && n <= INT_MAX, "[dist] host_all_reduce_sum of ", n, " values");
    MPI_Request r;
    check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, comm_, &r),
          "all_reduce");
    finish({r}, "all_reduce (host)");
  }

  void host_broadcast(void* data, size_t bytes, int root) override {
    SBERT_CHECK(bytes <= INT_MAX && root >= 0 && root < size_, "[dist] broadcast of ", bytes,
                " bytes from rank ", root, " of ", size_);
    MPI_Request r;
    check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_, &r), "broadcast");
    finish({r}, "broadcast");
  }

  void host_all_gather(const void* send, size_t bytes, void* recv) override {
    all_gather(send, bytes, recv);
  }

  void barrier() override {
    MPI_Request r;
    check(MPI_Ibarrier(comm_, &r), "barrier");
    finish({r}, "barrier");
  }

  Request start_all_reduce_sum(float* data, int64_t n) override {
    SBERT_CHECK(n >= 0, "[dist] all_reduce of ", n, " floats");
    std::vector<MPI_Request> rs;
    // MPI counts are int: a block above 2^31 floats goes in pieces.
    constexpr int64_t kPiece = int64_t{1} << 30;
    for (int64_t at = 0; at < n; at += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, n - at));
      MPI_Request r;
      check(MPI_Iallreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, comm_, &r),
            "all_reduce");
      rs.push_back(r);
    }
    const Request id = ++last_request_;
    pending_.emplace(id, std::move(rs));
    return id;
  }

  void wait(Request request) override {
    if (request == 0) return;
    auto it = pending_.find(request);
    SBERT_CHECK(it != pending_.end(), "[dist] wait on unknown request ", request);
    std::vector<MPI_Request> rs = std::move(it->second);
    pending_.erase(it);
    finish(std::move(rs), "all_reduce (gradients)");
  }

  void progress() override {
    // Completed requests become MPI_REQUEST_NULL, which a later test or wait accepts.
    for (auto& [id, rs] : pending_) {
      int flag = 0;
      check(MPI_Testall(static_cast<int>(rs.size()), rs.data(), &flag, MPI_STATUSES_IGNORE),
            "all_reduce (gradients)");
    }
  }

  void all_gather(const void* send, size_t bytes, void* recv) override {
    SBERT_CHECK(bytes <= INT_MAX, "[dist] all_gather of ", bytes,
                " bytes per rank: more than MPI's int count (lower the batch size per rank)");
    MPI_Request r;
    check(MPI_Iallgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes),
                         MPI_BYTE, comm_, &r),
          "all_gather");
    finish({r}, "all_gather");
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    broken_ = true;
    fail("[dist] ", what, " failed on rank ", rank_, " of ", size_, ": ", mpi_error_text(code));
  }

  void finish(std::vector<MPI_Request> rs, const char* what) {
    int code = MPI_SUCCESS;
    const bool done = poll_until(
        [&] {
          int flag = 0;
          code = MPI_Testall(static_cast<int>(rs.size()), rs.data(), &flag, MPI_STATUSES_IGNORE);
          return code != MPI_SUCCESS || flag != 0;
        },
        timeout_);
    check(code, what);
    if (!done) {
      broken_ = true;
      fail("[dist] ", what, " timed out after ", timeout_.count() / 1000.0, " s on rank ", rank_,
           " of ", size_,
           ": another rank failed, was killed or is stuck (timeout: trainer.dist_timeout_sec)");
    }
  }

  std::chrono::milliseconds timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool own_init_ = false;
  bool broken_ = false;
  Request last_request_ = 0;
  std::unordered_map<Request, std::vector<MPI_Request>> pending_;
};

}  // namespace

bool have_mpi() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace sbert
