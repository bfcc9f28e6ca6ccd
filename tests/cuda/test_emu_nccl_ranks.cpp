// The library's NCCL communicator with two ranks in one process: under the SIMT emulator a rank
// is a thread (NCCL's model meets the ranks in-process), so the bucketed all-reduce and the
// all-gather of dist/nccl.cpp run with real peers in CI. The host side (rank, the unique id's
// broadcast) is a small in-process communicator (thread_host.h). Emulator builds only.
#include <catch2/catch.hpp>

#ifdef SBERT_SIMT_EMU
#include <cuda_runtime.h>

#include <string>
#include <thread>
#include <vector>

#include "dist/communicator.h"
#include "thread_host.h"

namespace {

using sbert::test::Exchange;
using sbert::test::ThreadHost;

// One rank's work; returns "" or what went wrong (Catch2 assertions stay on the main thread).
std::string rank_main(Exchange& x, int rank) {
  try {
    sbert::CommOptions opt;
    opt.gpu = true;
    opt.timeout = std::chrono::seconds(60);
    auto comm = sbert::make_nccl_communicator(std::make_unique<ThreadHost>(x, rank), opt);
    if (comm->size() != 2 || comm->rank() != rank) return "size/rank";
    // Gradient buckets: rank r holds r + 1 + i; the sum over ranks is 3 + 2 i.
    const int64_t n = 1000;
    std::vector<float> h(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) h[static_cast<size_t>(i)] = static_cast<float>(rank + 1 + i);
    float* d = nullptr;
    if (cudaMalloc(&d, sizeof(float) * n) != cudaSuccess) return "cudaMalloc";
    cudaMemcpy(d, h.data(), sizeof(float) * n, cudaMemcpyHostToDevice);
    const auto a = comm->start_all_reduce_sum(d, 600);  // two buckets, as the reducer does
    const auto b = comm->start_all_reduce_sum(d + 600, n - 600);
    comm->wait(b);
    comm->wait(a);
    cudaMemcpy(h.data(), d, sizeof(float) * n, cudaMemcpyDeviceToHost);
    for (int64_t i = 0; i < n; ++i) {
      if (h[static_cast<size_t>(i)] != static_cast<float>(3 + 2 * i)) {
        return "all_reduce element " + std::to_string(i) + " = " + std::to_string(h[static_cast<size_t>(i)]);
      }
    }
    // Embedding rows: all-gather puts rank r's 4 floats at [4 r, 4 r + 4).
    float* g = nullptr;
    float* mine = nullptr;
    cudaMalloc(&g, sizeof(float) * 8);
    cudaMalloc(&mine, sizeof(float) * 4);
    const float row[4] = {10.0f * rank, 10.0f * rank + 1, 10.0f * rank + 2, 10.0f * rank + 3};
    cudaMemcpy(mine, row, sizeof row, cudaMemcpyHostToDevice);
    comm->all_gather(mine, sizeof row, g);
    float back[8];
    cudaMemcpy(back, g, sizeof back, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 8; ++i) {
      if (back[i] != static_cast<float>(10 * (i / 4) + i % 4)) return "all_gather element " + std::to_string(i);
    }
    cudaFree(d);
    cudaFree(g);
    cudaFree(mine);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("the NCCL communicator with two in-process ranks: bucketed all-reduce, all-gather",
          "[nccl][emu]") {
  Exchange x(2);
  std::string err[2];
  std::thread t1([&] { err[1] = rank_main(x, 1); });
  err[0] = rank_main(x, 0);
  t1.join();
  INFO("rank 0: " << err[0] << " | rank 1: " << err[1]);
  CHECK(err[0].empty());
  CHECK(err[1].empty());
}

#endif
