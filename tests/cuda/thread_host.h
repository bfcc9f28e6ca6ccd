// An in-process host communicator for ranks that are threads of one process (the SIMT
// emulator's NCCL model meets its ranks in-process): rank, size and the host collectives, on
// which the library's NCCL communicator is built (make_nccl_communicator). A rank that fails
// calls Exchange::abandon(), and the others' next (or current) host collective throws instead
// of waiting for it; a collective also gives up after a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/check.h"
#include "dist/communicator.h"

namespace sbert::test {

// What the ranks share: a generation-counted exchange of byte blocks.
struct Exchange {
  std::mutex mu;
  std::condition_variable cv;
  int size;
  int arrived = 0;
  uint64_t generation = 0;
  bool abandoned = false;
  std::vector<std::string> slots;
  std::vector<std::string> result;
  explicit Exchange(int n) : size(n), slots(static_cast<size_t>(n)) {}

  // Every rank's bytes, in rank order, once all ranks have called it.
  std::vector<std::string> all(int rank, std::string mine) {
    std::unique_lock<std::mutex> lock(mu);
    SBERT_CHECK(!abandoned, "[test] rank ", rank, ": a peer rank failed");
    const uint64_t gen = generation;
    slots[static_cast<size_t>(rank)] = std::move(mine);
    if (++arrived == size) {
      result = slots;
      arrived = 0;
      ++generation;
      cv.notify_all();
    } else {
      const bool met = cv.wait_for(lock, std::chrono::seconds(120),
                                   [&] { return generation != gen || abandoned; });
      SBERT_CHECK(met && generation != gen, "[test] rank ", rank,
                  met ? ": a peer rank failed" : ": host collective timed out");
    }
    return result;
  }

  void abandon() {
    std::lock_guard<std::mutex> lock(mu);
    abandoned = true;
    cv.notify_all();
  }
};

class ThreadHost final : public Communicator {
 public:
  ThreadHost(Exchange& x, int rank) : x_(x), rank_(rank) {}
  const char* backend() const override { return "threads"; }
  int rank() const override { return rank_; }
  int size() const override { return x_.size; }
  // Each rank "on its own machine": one emulated device each.
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  Device bulk_device() const override { return Device::CPU; }
  void host_all_reduce_sum(double* data, int64_t n) override {
    const auto parts = x_.all(rank_, std::string(reinterpret_cast<const char*>(data),
                                                 static_cast<size_t>(n) * sizeof(double)));
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (const auto& p : parts) {
        double v;
        std::memcpy(&v, p.data() + i * static_cast<int64_t>(sizeof(double)), sizeof v);
        s += v;
      }
      data[i] = s;
    }
  }
  void host_broadcast(void* data, size_t bytes, int root) override {
    const auto parts = x_.all(rank_, std::string(static_cast<const char*>(data), bytes));
    std::memcpy(data, parts[static_cast<size_t>(root)].data(), bytes);
  }
  void host_all_gather(const void* send, size_t bytes, void* recv) override {
    const auto parts = x_.all(rank_, std::string(static_cast<const char*>(send), bytes));
    for (size_t r = 0; r < parts.size(); ++r) {
      std::memcpy(static_cast<char*>(recv) + r * bytes, parts[r].data(), bytes);
    }
  }
  void barrier() override { x_.all(rank_, {}); }
  Request start_all_reduce_sum(float*, int64_t) override { return 0; }
  void wait(Request) override {}
  void all_gather(const void* send, size_t bytes, void* recv) override {
    host_all_gather(send, bytes, recv);
  }
  [[noreturn]] void abort(int) override { std::abort(); }

 private:
  Exchange& x_;
  int rank_;
};

}  // namespace sbert::test
