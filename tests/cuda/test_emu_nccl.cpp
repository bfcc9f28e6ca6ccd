// The SIMT emulator's NCCL model: 2 and 4 in-process ranks (std::threads) running all-reduce
// (sum, avg, max), all-gather, broadcast and reduce-scatter on cudaMalloc'd buffers, compared
// exactly with the expected values; plus groups, mismatches, timeouts and abort.
// Compiled in EMU builds only (-DSBERT_CUDA=EMU defines SBERT_SIMT_EMU).
// GCC 12 warns falsely on std::string concatenation here (-Wrestrict, GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <catch2/catch.hpp>

#ifdef SBERT_SIMT_EMU
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "simt/emu/core.h"

namespace {

// Catch2 assertions are not thread-safe: device-buffer failures throw instead (with_ranks turns
// them into the rank's failure text; on the main thread Catch2 reports them).
void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + " failed");
}

template <class T>
struct Dev {
  explicit Dev(size_t count) : n(count) { cuda_ok(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc"); }
  ~Dev() { cudaFree(ptr); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void upload(const std::vector<T>& v) {
    cuda_ok(cudaMemcpy(ptr, v.data(), n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<T> download() const {
    std::vector<T> v(n);
    cuda_ok(cudaMemcpy(v.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return v;
  }
  T* ptr = nullptr;
  size_t n;
};

// Runs body(rank, comm) on `ranks` threads sharing a fresh unique id (non-blocking config, as
// dist/nccl.cpp makes it). The bodies return a failure text (empty: fine), checked on the main
// thread.
void with_ranks(int ranks, const std::function<std::string(int, ncclComm_t&)>& body) {
  ncclUniqueId id{};
  REQUIRE(ncclGetUniqueId(&id) == ncclSuccess);
  std::vector<std::string> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ncclComm_t comm = nullptr;
      ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
      config.blocking = 0;
      const ncclResult_t init = ncclCommInitRankConfig(&comm, ranks, id, r, &config);
      ncclResult_t async = ncclInProgress;
      if (init != ncclSuccess || ncclCommGetAsyncError(comm, &async) != ncclSuccess ||
          async != ncclSuccess) {
        errors[static_cast<size_t>(r)] = std::string("init: ") + ncclGetErrorString(init);
        ncclCommAbort(comm);
        return;
      }
      try {
        errors[static_cast<size_t>(r)] = body(r, comm);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
      if (comm) {  // null: the body aborted it
        ncclCommFinalize(comm);
        ncclCommDestroy(comm);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) {
    INFO("rank " << r);
    CHECK(errors[static_cast<size_t>(r)] == "");
  }
}

template <class T>
std::string expect_eq(const char* what, const std::vector<T>& got, const std::vector<T>& want) {
  if (got == want) return "";
  std::string s = std::string(what) + ": got";
  for (const T& v : got) s += " " + std::to_string(v);
  s += ", want";
  for (const T& v : want) s += " " + std::to_string(v);
  return s;
}

}  // namespace

TEST_CASE("emu NCCL: all-reduce sum / avg / max, 2 and 4 ranks", "[nccl][emu]") {
  for (int ranks : {2, 4}) {
    INFO(ranks << " ranks");
    constexpr size_t n = 5;
    with_ranks(ranks, [&](int r, ncclComm_t& comm) -> std::string {
      // Rank r holds r + i / 4 + 1: sums and averages of these are exact in fp32.
      std::vector<float> mine(n);
      for (size_t i = 0; i < n; ++i)
        mine[i] = static_cast<float>(r) + static_cast<float>(i) / 4 + 1;
      std::vector<float> sum(n), avg(n), mx(n);
      for (size_t i = 0; i < n; ++i) {
        for (int q = 0; q < ranks; ++q)
          sum[i] += static_cast<float>(q) + static_cast<float>(i) / 4 + 1;
        avg[i] = sum[i] / static_cast<float>(ranks);
        mx[i] = static_cast<float>(ranks - 1) + static_cast<float>(i) / 4 + 1;
      }
      Dev<float> send(n), recv(n);
      send.upload(mine);
      std::string e;
      if (ncclAllReduce(send.ptr, recv.ptr, n, ncclFloat32, ncclSum, comm, nullptr) != ncclSuccess)
        return std::string("sum: ") + ncclGetLastError(comm);
      if (!(e = expect_eq("sum", recv.download(), sum)).empty()) return e;
      if (ncclAllReduce(send.ptr, recv.ptr, n, ncclFloat, ncclAvg, comm, nullptr) != ncclSuccess)
        return std::string("avg: ") + ncclGetLastError(comm);
      if (!(e = expect_eq("avg", recv.download(), avg)).empty()) return e;
      if (ncclAllReduce(send.ptr, recv.ptr, n, ncclFloat32, ncclMax, comm, nullptr) != ncclSuccess)
        return std::string("max: ") + ncclGetLastError(comm);
      if (!(e = expect_eq("max", recv.download(), mx)).empty()) return e;
      // In place, as dist/nccl.cpp calls it.
      if (ncclAllReduce(send.ptr, send.ptr, n, ncclFloat32, ncclSum, comm, nullptr) != ncclSuccess)
        return std::string("in place: ") + ncclGetLastError(comm);
      if (!(e = expect_eq("in place", send.download(), sum)).empty()) return e;
      // Integers.
      Dev<int64_t> isend(2), irecv(2);
      isend.upload({int64_t{r} + 1, int64_t{1} << (40 + r)});
      if (ncclAllReduce(isend.ptr, irecv.ptr, 2, ncclInt64, ncclSum, comm, nullptr) != ncclSuccess)
        return std::string("int64: ") + ncclGetLastError(comm);
      int64_t s0 = 0, s1 = 0;
      for (int q = 0; q < ranks; ++q) {
        s0 += q + 1;
        s1 += int64_t{1} << (40 + q);
      }
      return expect_eq("int64", irecv.download(), {s0, s1});
    });
  }
}

TEST_CASE("emu NCCL: all-gather, broadcast, reduce-scatter, 2 and 4 ranks", "[nccl][emu]") {
  for (int ranks : {2, 4}) {
    INFO(ranks << " ranks");
    with_ranks(ranks, [&](int r, ncclComm_t& comm) -> std::string {
      const auto R = static_cast<size_t>(ranks);
      // All-gather of 3 bytes per rank (dist/nccl.cpp gathers ncclUint8).
      Dev<uint8_t> gsend(3), grecv(3 * R);
      gsend.upload({static_cast<uint8_t>(10 * r), static_cast<uint8_t>(10 * r + 1),
                    static_cast<uint8_t>(10 * r + 2)});
      if (ncclAllGather(gsend.ptr, grecv.ptr, 3, ncclUint8, comm, nullptr) != ncclSuccess)
        return std::string("all-gather: ") + ncclGetLastError(comm);
      std::vector<uint8_t> gathered;
      for (int q = 0; q < ranks; ++q)
        for (int i = 0; i < 3; ++i) gathered.push_back(static_cast<uint8_t>(10 * q + i));
      std::string e = expect_eq("all-gather", grecv.download(), gathered);
      if (!e.empty()) return e;

      // Broadcast from the last rank; the others' buffers are receive-only.
      Dev<int32_t> b(4);
      b.upload(r == ranks - 1 ? std::vector<int32_t>{7, -8, 9, 1 << 30}
                              : std::vector<int32_t>{0, 0, 0, 0});
      if (ncclBroadcast(b.ptr, b.ptr, 4, ncclInt32, ranks - 1, comm, nullptr) != ncclSuccess)
        return std::string("broadcast: ") + ncclGetLastError(comm);
      if (!(e = expect_eq("broadcast", b.download(), {7, -8, 9, 1 << 30})).empty()) return e;

      // Reduce-scatter: rank q sends q + j for element j; rank r receives its 2 sums.
      Dev<double> rsend(2 * R), rrecv(2);
      std::vector<double> v(2 * R);
      for (size_t j = 0; j < v.size(); ++j) v[j] = r + static_cast<double>(j);
      rsend.upload(v);
      if (ncclReduceScatter(rsend.ptr, rrecv.ptr, 2, ncclFloat64, ncclSum, comm, nullptr) !=
          ncclSuccess)
        return std::string("reduce-scatter: ") + ncclGetLastError(comm);
      std::vector<double> want(2);
      for (size_t j = 0; j < 2; ++j)
        for (int q = 0; q < ranks; ++q) want[j] += q + static_cast<double>(2 * r + j);
      return expect_eq("reduce-scatter", rrecv.download(), want);
    });
  }
}

TEST_CASE("emu NCCL: bf16 all-reduce and one thread driving all ranks in a group", "[nccl][emu]") {
  constexpr int ranks = 3;
  ncclUniqueId id{};
  REQUIRE(ncclGetUniqueId(&id) == ncclSuccess);
  std::vector<ncclComm_t> comms(ranks);
  REQUIRE(ncclGroupStart() == ncclSuccess);
  for (int r = 0; r < ranks; ++r) REQUIRE(ncclCommInitRank(&comms[r], ranks, id, r) == ncclSuccess);
  REQUIRE(ncclGroupEnd() == ncclSuccess);
  // bf16 1.0 = 0x3f80, 0.5 = 0x3f00: 1 + 0.5 + 0.5 = 2.0 = 0x4000.
  std::vector<std::unique_ptr<Dev<uint16_t>>> bufs;
  for (int r = 0; r < ranks; ++r) {
    bufs.push_back(std::make_unique<Dev<uint16_t>>(1));
    bufs.back()->upload({static_cast<uint16_t>(r == 0 ? 0x3f80 : 0x3f00)});
  }
  REQUIRE(ncclGroupStart() == ncclSuccess);
  for (int r = 0; r < ranks; ++r)
    REQUIRE(ncclAllReduce(bufs[r]->ptr, bufs[r]->ptr, 1, ncclBfloat16, ncclSum, comms[r],
                          nullptr) == ncclSuccess);
  REQUIRE(ncclGroupEnd() == ncclSuccess);
  for (int r = 0; r < ranks; ++r) CHECK(bufs[r]->download()[0] == 0x4000);
  for (auto c : comms) CHECK(ncclCommDestroy(c) == ncclSuccess);
}

TEST_CASE("emu NCCL: mismatched collectives, a missing rank and abort fail instead of hanging",
          "[nccl][emu]") {
  ::setenv("SIMT_EMU_NCCL_TIMEOUT_SEC", "1", 1);
  // Different counts in the same collective.
  with_ranks(2, [](int r, ncclComm_t& comm) -> std::string {
    Dev<float> buf(4);
    buf.upload({1, 2, 3, 4});
    const ncclResult_t res =
        ncclAllReduce(buf.ptr, buf.ptr, r == 0 ? 4 : 3, ncclFloat32, ncclSum, comm, nullptr);
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm, &async);
    if (res == ncclSuccess || async == ncclSuccess) return "mismatch not detected";
    return "";
  });
  // Rank 1 never posts: rank 0 times out (ncclSystemError); rank 1's late call then fails at
  // once with ncclRemoteError.
  with_ranks(2, [](int r, ncclComm_t& comm) -> std::string {
    Dev<float> buf(2);
    buf.upload({1, 2});
    if (r == 0) {
      const ncclResult_t res =
          ncclAllReduce(buf.ptr, buf.ptr, 2, ncclFloat, ncclSum, comm, nullptr);
      if (res != ncclSystemError) return std::string("got ") + ncclGetErrorString(res);
      if (std::string(ncclGetLastError(comm)).find("timed out") == std::string::npos)
        return std::string("message: ") + ncclGetLastError(comm);
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    const ncclResult_t res = ncclAllReduce(buf.ptr, buf.ptr, 2, ncclFloat, ncclSum, comm, nullptr);
    return res == ncclRemoteError ? "" : std::string("late rank got ") + ncclGetErrorString(res);
  });
  // A host pointer is reported by the emulator and breaks the communicator for the peer.
  simt::emu::take_reports();
  with_ranks(2, [](int r, ncclComm_t& comm) -> std::string {
    Dev<float> dev(2);
    std::vector<float> host(2, 1.0f);
    dev.upload({1, 2});
    float* buf = r == 0 ? host.data() : dev.ptr;
    const ncclResult_t res = ncclAllReduce(buf, buf, 2, ncclFloat, ncclSum, comm, nullptr);
    if (r == 0 && res != ncclUnhandledCudaError)
      return std::string("got ") + ncclGetErrorString(res);
    if (r == 1 && res == ncclSuccess) return "peer of a bad rank succeeded";
    return "";
  });
  CHECK(!simt::emu::take_reports().empty());
  cudaGetLastError();
  // Abort: the peer waiting in a collective is released with ncclRemoteError.
  with_ranks(2, [](int r, ncclComm_t& comm) -> std::string {
    if (r == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ncclCommAbort(comm);
      comm = nullptr;
      return "";
    }
    Dev<float> buf(1);
    buf.upload({1});
    const ncclResult_t res = ncclAllReduce(buf.ptr, buf.ptr, 1, ncclFloat, ncclSum, comm, nullptr);
    return res == ncclRemoteError ? "" : std::string("got ") + ncclGetErrorString(res);
  });
  ::unsetenv("SIMT_EMU_NCCL_TIMEOUT_SEC");
}

#endif  // SBERT_SIMT_EMU
