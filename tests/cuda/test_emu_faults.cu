// The SIMT emulator catches what it claims (docs/emulator.md): each kernel here carries one
// planted fault, and each has a correct twin that must run clean. A fault must come back as
// the launch's error (what SBERT_LAUNCH_CHECK turns into an exception) with a report naming
// the check, the kernel, the block and thread, and the address or shared-memory offset.
// Emulator builds only (tests/cuda/*.cu are emulated kernels).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "simt/emu/core.h"
#include "simt/portable.cuh"

namespace {

using simt::emu::Check;

struct Outcome {
  cudaError_t error;
  std::vector<simt::emu::Report> reports;
  bool has(Check c, const std::string& text) const {
    for (const auto& r : reports) {
      if (r.check == c && r.message.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string all() const {
    std::string s;
    for (const auto& r : reports) s += r.message + "\n";
    return s;
  }
};

// Runs `launch`, then collects the error and the reports it caused.
template <class F>
Outcome observe(F&& launch) {
  simt::emu::take_reports();
  (void)cudaGetLastError();
  launch();
  Outcome o{cudaGetLastError(), simt::emu::take_reports()};
  INFO(o.all());
  return o;
}

template <class T>
T* device_array(size_t n, bool zeroed = true) {
  T* p = nullptr;
  REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess);
  if (zeroed) REQUIRE(cudaMemset(p, 0, n * sizeof(T)) == cudaSuccess);
  return p;
}

// ---- out-of-bounds global write ------------------------------------------------------------
__global__ void fill_kernel(float* out, int n, int upto) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < upto) out[i] = static_cast<float>(i);
  (void)n;
}

TEST_CASE("emu: an out-of-bounds global write is reported - the bounded twin is clean",
          "[cuda][emu]") {
  float* out = device_array<float>(100);
  const Outcome bad = observe([&] { simt::launch<fill_kernel>({1, 128, 0, nullptr}, out, 100, 101); });
  CHECK(bad.error == cudaErrorIllegalAddress);
  CHECK(bad.has(Check::Memcheck, "fill_kernel"));
  CHECK(bad.has(Check::Memcheck, "thread (100,0,0)"));
  CHECK(bad.has(Check::Memcheck, "0 bytes past the end of the 400-byte allocation"));
  const Outcome good = observe([&] { simt::launch<fill_kernel>({1, 128, 0, nullptr}, out, 100, 100); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// ---- missing __syncthreads between a shared write and another thread's read -------------------
template <bool kSync>
__global__ void rotate_kernel(float* out, const float* in) {
  SIMT_SHARED(tile, float[64]);
  const unsigned t = threadIdx.x;
  tile[t] = in[t];
  if (kSync) __syncthreads();
  out[t] = tile[(t + 1) % 64];
}

TEST_CASE("emu: a shared read of another thread's write without a barrier is a race",
          "[cuda][emu]") {
  float* in = device_array<float>(64);
  float* out = device_array<float>(64);
  const Outcome bad = observe([&] { simt::launch<rotate_kernel<false>>({1, 64, 0, nullptr}, out, in); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Racecheck, "rotate_kernel<false>"));
  // Threads run one after another here, so thread 0 reads tile[1] before thread 1 writes it:
  // the hazard shows as write-after-read; on a GPU either order can happen.
  CHECK(bad.has(Check::Racecheck, "hazard"));
  CHECK(bad.has(Check::Racecheck, "offset 0x4 "));
  const Outcome good = observe([&] { simt::launch<rotate_kernel<true>>({1, 64, 0, nullptr}, out, in); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(in);
  cudaFree(out);
}

// Warp-synchronous code: since Volta, lanes of a warp are not implicitly in step; exchanging
// through shared memory needs __syncwarp.
template <bool kSync>
__global__ void warp_swap_kernel(int* out) {
  SIMT_SHARED(s, int[32]);
  const unsigned lane = threadIdx.x;
  s[lane] = static_cast<int>(lane);
  if (kSync) __syncwarp();
  out[lane] = s[lane ^ 1u];
}

TEST_CASE("emu: warp-synchronous shared memory without __syncwarp is a race", "[cuda][emu]") {
  int* out = device_array<int>(32);
  const Outcome bad = observe([&] { simt::launch<warp_swap_kernel<false>>({1, 32, 0, nullptr}, out); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Racecheck, "warp_swap_kernel<false>"));
  const Outcome good = observe([&] { simt::launch<warp_swap_kernel<true>>({1, 32, 0, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  std::vector<int> h(32);
  cudaMemcpy(h.data(), out, sizeof(int) * 32, cudaMemcpyDeviceToHost);
  for (int i = 0; i < 32; ++i) CHECK(h[static_cast<size_t>(i)] == (i ^ 1));
  cudaFree(out);
}

// Neighbouring 2-byte values of one 4-byte word written by different threads (bf16 tiles) do
// not race; two threads writing the same 2 bytes do.
template <bool kSameBytes>
__global__ void half_words_kernel(uint16_t* out) {
  SIMT_SHARED(s, uint16_t[64]);
  const unsigned t = threadIdx.x;
  s[kSameBytes ? t / 2 : t] = static_cast<uint16_t>(t);
  __syncthreads();
  out[t] = s[t];
}

TEST_CASE("emu: races are tracked per byte: neighbouring 16-bit stores are not a race",
          "[cuda][emu]") {
  uint16_t* out = device_array<uint16_t>(64);
  const Outcome bad = observe([&] { simt::launch<half_words_kernel<true>>({1, 64, 0, nullptr}, out); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Racecheck, "write-after-write"));
  const Outcome good = observe([&] { simt::launch<half_words_kernel<false>>({1, 64, 0, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// ---- a shuffle reading a lane outside its mask ---------------------------------------------
template <bool kOutside>
__global__ void half_warp_shuffle_kernel(float* out) {
  const unsigned lane = threadIdx.x;
  if (lane < 16) {
    // The mask names lanes 0-15: source lane 16 + lane is outside it, (lane + 1) % 16 is not.
    const int src = kOutside ? static_cast<int>(lane) + 16 : static_cast<int>((lane + 1) % 16);
    out[lane] = __shfl_sync(0x0000ffffu, static_cast<float>(lane), src, 32);
  }
}

TEST_CASE("emu: a shuffle from a lane outside the mask is reported", "[cuda][emu]") {
  float* out = device_array<float>(32);
  const Outcome bad = observe([&] { simt::launch<half_warp_shuffle_kernel<true>>({1, 32, 0, nullptr}, out); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Synccheck, "outside the mask 0xffff"));
  CHECK(bad.has(Check::Synccheck, "__shfl_sync"));
  const Outcome good = observe([&] { simt::launch<half_warp_shuffle_kernel<false>>({1, 32, 0, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// ---- too much dynamic shared memory -------------------------------------------------------
__global__ void smem_kernel(float* out) {
  SIMT_DYNAMIC_SHARED(float, buf);
  buf[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = buf[(threadIdx.x + 1) % blockDim.x];
}

TEST_CASE("emu: dynamic shared memory over the limit is refused at launch", "[cuda][emu]") {
  float* out = device_array<float>(128);
  const size_t big = 64 * 1024;
  const Outcome bad = observe([&] { simt::launch<smem_kernel>({1, 128, big, nullptr}, out); });
  CHECK(bad.error == cudaErrorInvalidValue);
  CHECK(bad.has(Check::Launch, "65536 bytes of dynamic shared memory requested, 49152 allowed"));
  const Outcome over = observe([&] {
    (void)cudaFuncSetAttribute(smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024);
  });
  CHECK(over.error == cudaErrorInvalidValue);
  CHECK(over.has(Check::Launch, "at most 232448 bytes"));
  // The twin: the opt-in attribute, as a real kernel above 48 KiB must do.
  REQUIRE(cudaFuncSetAttribute(smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(big)) == cudaSuccess);
  const Outcome good = observe([&] { simt::launch<smem_kernel>({1, 128, big, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// ---- launch limits --------------------------------------------------------------------------
TEST_CASE("emu: a block of more than 1024 threads is refused", "[cuda][emu]") {
  float* out = device_array<float>(2048);
  const Outcome bad = observe([&] { simt::launch<fill_kernel>({1, 1025, 0, nullptr}, out, 2048, 1); });
  CHECK(bad.error == cudaErrorInvalidConfiguration);
  CHECK(bad.has(Check::Launch, "1025 threads"));
  const Outcome grid = observe([&] { simt::launch<fill_kernel>({dim3(1, 65536), 32, 0, nullptr}, out, 2048, 1); });
  CHECK(grid.error == cudaErrorInvalidConfiguration);
  const Outcome good = observe([&] { simt::launch<fill_kernel>({2, 1024, 0, nullptr}, out, 2048, 2048); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// ---- reading device memory never written ---------------------------------------------------
__global__ void copy_kernel(float* out, const float* in, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = in[i];
}

TEST_CASE("emu: a read of uninitialised device memory is reported", "[cuda][emu]") {
  float* in = device_array<float>(64, /*zeroed=*/false);
  float* out = device_array<float>(64);
  const Outcome bad = observe([&] { simt::launch<copy_kernel>({1, 64, 0, nullptr}, out, in, 64); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Initcheck, "never written"));
  CHECK(bad.has(Check::Initcheck, "copy_kernel"));
  REQUIRE(cudaMemset(in, 0, 64 * sizeof(float)) == cudaSuccess);
  const Outcome good = observe([&] { simt::launch<copy_kernel>({1, 64, 0, nullptr}, out, in, 64); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(in);
  cudaFree(out);
}

// ---- host pointers and freed memory ---------------------------------------------------------
TEST_CASE("emu: a host pointer or freed memory passed to a kernel is reported", "[cuda][emu]") {
  std::vector<float> host(64, 1.0f);
  float* out = device_array<float>(64);
  const Outcome bad = observe([&] { simt::launch<copy_kernel>({1, 64, 0, nullptr}, out, host.data(), 64); });
  CHECK(bad.error == cudaErrorIllegalAddress);
  CHECK(bad.has(Check::Memcheck, "host memory, not device memory"));
  float* gone = device_array<float>(64);
  REQUIRE(cudaFree(gone) == cudaSuccess);
  const Outcome freed = observe([&] { simt::launch<copy_kernel>({1, 64, 0, nullptr}, out, gone, 64); });
  CHECK(freed.error == cudaErrorIllegalAddress);
  CHECK(freed.has(Check::Memcheck, "use after free"));
  const Outcome twice = observe([&] { (void)cudaFree(gone); });
  CHECK(twice.error == cudaErrorInvalidValue);
  CHECK(twice.has(Check::Memcheck, "freed twice"));
  cudaFree(out);
}

// ---- synchronisation faults ----------------------------------------------------------------
template <bool kDivergent>
__global__ void barrier_kernel(float* out) {
  if (kDivergent && threadIdx.x < 16) {
    __syncthreads();  // a different barrier than the one the other threads reach
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

TEST_CASE("emu: threads of a block at different __syncthreads are reported", "[cuda][emu]") {
  float* out = device_array<float>(64);
  const Outcome bad = observe([&] { simt::launch<barrier_kernel<true>>({1, 64, 0, nullptr}, out); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Synccheck, "divergent __syncthreads"));
  const Outcome good = observe([&] { simt::launch<barrier_kernel<false>>({1, 64, 0, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

// A warp reduction whose mask names lanes that returned early: it can never complete.
template <bool kEarlyExit>
__global__ void warp_sum_kernel(float* out) {
  const unsigned lane = threadIdx.x;
  if (kEarlyExit && lane >= 24) return;
  float v = 1.0f;
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  out[lane] = v;
}

TEST_CASE("emu: a warp collective waiting for exited lanes is reported", "[cuda][emu]") {
  float* out = device_array<float>(32);
  const Outcome bad = observe([&] { simt::launch<warp_sum_kernel<true>>({1, 32, 0, nullptr}, out); });
  CHECK(bad.error == cudaErrorLaunchFailure);
  CHECK(bad.has(Check::Synccheck, "exited"));
  const Outcome good = observe([&] { simt::launch<warp_sum_kernel<false>>({1, 32, 0, nullptr}, out); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  std::vector<float> h(32);
  cudaMemcpy(h.data(), out, sizeof(float) * 32, cudaMemcpyDeviceToHost);
  CHECK(h[0] == 32.0f);
  CHECK(h[31] == 32.0f);
  cudaFree(out);
}

// ---- atomics and 3D launches work ----------------------------------------------------------
__global__ void histogram_kernel(int* bins, float* total) {
  SIMT_SHARED(local, int[4]);
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  if (t < 4) local[t] = 0;
  __syncthreads();
  atomicAdd(&local[t % 4], 1);  // atomics on shared memory are not a race
  __syncthreads();
  if (t < 4) atomicAdd(&bins[t], local[t]);
  atomicAdd(total, 0.5f);
}

TEST_CASE("emu: atomics on shared and global memory over a 3D grid of 3D blocks", "[cuda][emu]") {
  int* bins = device_array<int>(4);
  float* total = device_array<float>(1);
  const Outcome o = observe([&] { simt::launch<histogram_kernel>({dim3(2, 2, 3), dim3(4, 2, 3), 0, nullptr}, bins, total); });
  CHECK(o.error == cudaSuccess);
  CHECK(o.reports.empty());
  std::vector<int> h(4);
  float t = 0.0f;
  cudaMemcpy(h.data(), bins, sizeof(int) * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(&t, total, sizeof(float), cudaMemcpyDeviceToHost);
  for (int b : h) CHECK(b == 12 * 24 / 4);  // 12 blocks of 24 threads, spread over 4 bins
  CHECK(t == 0.5f * 12 * 24);
  cudaFree(bins);
  cudaFree(total);
}

// ---- a parameter block larger than a launch can carry -------------------------------------
struct Huge {
  float v[8200];  // 32,800 bytes: over the 32,764 bytes of kernel parameters
};
struct Fits {
  float v[16];
};
template <class P>
__global__ void param_kernel(float* out, P p) {
  out[threadIdx.x] = p.v[threadIdx.x];
}

TEST_CASE("emu: kernel parameters over 32,764 bytes are refused at launch", "[cuda][emu]") {
  float* out = device_array<float>(16);
  static Huge huge{};
  const Outcome bad = observe([&] { simt::launch<param_kernel<Huge>>({1, 16, 0, nullptr}, out, huge); });
  CHECK(bad.error == cudaErrorInvalidValue);
  CHECK(bad.has(Check::Launch, "kernel parameters of"));
  const Outcome good = observe([&] { simt::launch<param_kernel<Fits>>({1, 16, 0, nullptr}, out, Fits{}); });
  CHECK(good.error == cudaSuccess);
  CHECK(good.reports.empty());
  cudaFree(out);
}

}  // namespace
