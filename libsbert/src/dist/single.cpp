// The single-process backend: rank 0 of 1, every collective is the identity.
#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "dist/communicator.h"

namespace sbert {

namespace {

class SingleCommunicator final : public Communicator {
 public:
  const char* backend() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  Device bulk_device() const override { return Device::CPU; }

  void host_all_reduce_sum(double* /*data*/, int64_t /*n*/) override {}
  void host_broadcast(void* /*data*/, size_t /*bytes*/, int root) override { check_root(root); }
  void host_all_gather(const void* send, size_t bytes, void* recv) override {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
  }
  void barrier() override {}

  Request start_all_reduce_sum(float* /*data*/, int64_t /*n*/) override { return 0; }
  void wait(Request /*request*/) override {}
  void all_gather(const void* send, size_t bytes, void* recv) override {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
  }

  [[noreturn]] void abort(int code) override { std::_Exit(code); }

 private:
  static void check_root(int root) {
    SBERT_CHECK(root == 0, "[dist] broadcast from rank ", root, " in a single process");
  }
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() {
  return std::make_unique<SingleCommunicator>();
}

}  // namespace sbert
