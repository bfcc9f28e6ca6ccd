// Device helpers shared by the kernels of cuda/: warp reductions, the runtime's stream, and the
// deterministic column-sum kernel behind every parameter-gradient reduction over rows.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/check.cuh"
#include "cuda/runtime_impl.cuh"
#include "simt/portable.cuh"

namespace sbert::cuda {

inline cudaStream_t stream_of(Runtime& rt) { return rt.impl().stream; }

constexpr int kWarp = 32;

// Butterfly sum: every lane gets the same value, added in the same order on every run.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// ---- column sums: dst_n[j] += sum_r f_n(r, j), in double, for N outputs at once --------------
// Block (32, kColGroups): threadIdx.x is a column of a 32-column slice (coalesced rows),
// threadIdx.y a row group taking rows y, y + kColGroups, ... in order; the kColGroups partials
// are then added in group order. The order depends only on the constants: deterministic.
constexpr int kColGroups = 16;

template <int N>
struct ColumnOut {
  float* dst[N];
};

// rows_on_device (may be null) replaces rows, e.g. T = cu_seqlens[nseq] without a copy.
// F: struct with `__device__ void operator()(int64_t r, int64_t j, double (&acc)[N]) const`
// adding row r's terms of column j.
template <int N, class F>
__global__ void __launch_bounds__(kWarp* kColGroups)
    column_sums_kernel(ColumnOut<N> out, F f, int64_t rows, const int64_t* rows_on_device,
                       int64_t C) {
  SIMT_SHARED(part, double[N][kColGroups][kWarp + 1]);
  if (rows_on_device) rows = *rows_on_device;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarp + threadIdx.x;
  double acc[N];
  for (int n = 0; n < N; ++n) acc[n] = 0.0;
  if (j < C) {
    for (int64_t r = threadIdx.y; r < rows; r += kColGroups) f(r, j, acc);
  }
  for (int n = 0; n < N; ++n) part[n][threadIdx.y][threadIdx.x] = acc[n];
  __syncthreads();
  if (threadIdx.y == 0 && j < C) {
    for (int n = 0; n < N; ++n) {
      double s = 0.0;
      for (int g = 0; g < kColGroups; ++g) s += part[n][g][threadIdx.x];
      out.dst[n][j] += static_cast<float>(s);
    }
  }
}

template <int N, class F>
void launch_column_sums(ColumnOut<N> out, F f, int64_t rows, const int64_t* rows_on_device,
                        int64_t C, cudaStream_t stream, const char* op) {
  if (C == 0) return;
  const dim3 block(kWarp, kColGroups);
  simt::launch<column_sums_kernel<N, F>>({grid_for(C, kWarp, op), block, 0, stream}, out, f, rows, rows_on_device, C);
  SBERT_LAUNCH_CHECK(op);
}

// Warps per block of the row-wise kernels (one warp per row).
constexpr int kRowWarps = 8;

}  // namespace sbert::cuda
