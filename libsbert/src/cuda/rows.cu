// GradCache's row moves between a micro-batch's embeddings and the global batch's, the twins of
// cpu/rows.cpp: plain copies, the CPU's bits.
#include "cuda/common.cuh"
#include "cuda/train_kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;

// Grid (rows, column blocks). scatter: out[index[r]] = inp[r]; gather: out[r] = inp[index[r]].
template <bool kScatter>
__global__ void move_rows_kernel(float* out, const float* inp, const int64_t* index, int64_t C) {
  const int64_t r = blockIdx.x;
  const int64_t j = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  if (j >= C) return;
  const int64_t other = index[r];
  if (kScatter) {
    out[other * C + j] = inp[r * C + j];
  } else {
    out[r * C + j] = inp[other * C + j];
  }
}

template <bool kScatter>
void move_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C,
               Runtime& rt, const char* op) {
  if (rows == 0 || C == 0) return;
  const dim3 grid(grid_for(rows, 1, op), grid_for(C, kThreads, op));
  simt::launch<move_rows_kernel<kScatter>>({grid, kThreads, 0, stream_of(rt)}, out, inp, index, C);
  SBERT_LAUNCH_CHECK(op);
}

}  // namespace

void gather_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C,
                 Runtime& rt) {
  move_rows<false>(out, inp, index, rows, C, rt, "gather_rows");
}

void scatter_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C,
                  Runtime& rt) {
  move_rows<true>(out, inp, index, rows, C, rt, "scatter_rows");
}

}  // namespace sbert::cuda
