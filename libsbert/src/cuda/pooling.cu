// Sentence pooling over packed sequences and L2 normalization, the twin of cpu/pooling.cpp.
// Mean and CLS pooling add in the CPU's order (token order, float) and give its bits; the L2
// norms are double warp sums.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kTokenSplit = 8;      // blocks per sequence of the backward kernels (grid y)
constexpr double kNormEps = 1e-12;  // torch.nn.functional.normalize's default eps

__device__ __forceinline__ float inv_count(int64_t n) {
  // sentence-transformers divides by clamp(count, min=1e-9)
  return 1.0f / static_cast<float>(n > 1 ? n : 1);
}

// Grid (nseq, column blocks): thread j sums column j over the sequence's tokens in order.
__global__ void mean_pool_forward_kernel(float* out, const float* inp, const int64_t* cu_seqlens,
                                         int64_t C) {
  const int64_t s = blockIdx.x;
  const int64_t j = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  if (j >= C) return;
  const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
  float acc = 0.0f;
  for (int64_t t = a; t < b; ++t) acc += inp[t * C + j];
  out[s * C + j] = acc * inv_count(b - a);
}

__global__ void mean_pool_backward_kernel(float* dinp, const float* dout, const int64_t* cu_seqlens,
                                          int64_t C) {
  const int64_t s = blockIdx.x;
  const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
  const float inv = inv_count(b - a);
  for (int64_t t = a + blockIdx.y; t < b; t += gridDim.y) {
    for (int64_t j = threadIdx.x; j < C; j += kThreads) dinp[t * C + j] = dout[s * C + j] * inv;
  }
}

__global__ void cls_pool_forward_kernel(float* out, const float* inp, const int64_t* cu_seqlens,
                                        int64_t C) {
  const int64_t s = blockIdx.x;
  const int64_t a = cu_seqlens[s];
  for (int64_t j = threadIdx.x; j < C; j += kThreads) out[s * C + j] = inp[a * C + j];
}

// Writes every token row of the sequence: dout at its first token, zeros elsewhere.
__global__ void cls_pool_backward_kernel(float* dinp, const float* dout, const int64_t* cu_seqlens,
                                         int64_t C) {
  const int64_t s = blockIdx.x;
  const int64_t a = cu_seqlens[s], b = cu_seqlens[s + 1];
  for (int64_t t = a + blockIdx.y; t < b; t += gridDim.y) {
    for (int64_t j = threadIdx.x; j < C; j += kThreads) {
      dinp[t * C + j] = t == a ? dout[s * C + j] : 0.0f;
    }
  }
}

// One warp per row.
__global__ void __launch_bounds__(kWarp* kRowWarps)
    l2norm_forward_kernel(float* out, float* norm, const float* inp, int64_t rows, int64_t C) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowWarps + threadIdx.y;
  if (r >= rows) return;
  const float* x = inp + r * C;
  double ss = 0.0;
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    ss += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  }
  const float n = static_cast<float>(fmax(sqrt(warp_sum(ss)), kNormEps));
  for (int64_t j = threadIdx.x; j < C; j += kWarp) out[r * C + j] = x[j] / n;
  if (norm && threadIdx.x == 0) norm[r] = n;
}

__global__ void __launch_bounds__(kWarp* kRowWarps)
    l2norm_backward_kernel(float* dinp, const float* dout, const float* out, const float* norm,
                           int64_t rows, int64_t C) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowWarps + threadIdx.y;
  if (r >= rows) return;
  const float n = norm[r];
  double d = 0.0;
  if (static_cast<double>(n) > kNormEps) {  // not clamped: project out the radial part
    for (int64_t j = threadIdx.x; j < C; j += kWarp) {
      d += static_cast<double>(dout[r * C + j]) * static_cast<double>(out[r * C + j]);
    }
    d = warp_sum(d);
  }
  const float dt = static_cast<float>(d);
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    dinp[r * C + j] = (dout[r * C + j] - out[r * C + j] * dt) / n;
  }
}

}  // namespace

static void mean_pool_forward_impl(float* out, const float* inp, const int64_t* cu_seqlens,
                                   int64_t nseq, int64_t C, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const char* op = "mean_pool_forward";
  const dim3 grid(grid_for(nseq, 1, op), grid_for(C, kThreads, op));
  simt::launch<mean_pool_forward_kernel>({grid, kThreads, 0, stream_of(rt)}, out, inp, cu_seqlens,
                                         C);
  SBERT_LAUNCH_CHECK(op);
}

static void mean_pool_backward_impl(float* dinp, const float* dout, const int64_t* cu_seqlens,
                                    int64_t nseq, int64_t C, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const char* op = "mean_pool_backward";
  const dim3 grid(grid_for(nseq, 1, op), kTokenSplit);
  simt::launch<mean_pool_backward_kernel>({grid, kThreads, 0, stream_of(rt)}, dinp, dout,
                                          cu_seqlens, C);
  SBERT_LAUNCH_CHECK(op);
}

static void cls_pool_forward_impl(float* out, const float* inp, const int64_t* cu_seqlens,
                                  int64_t nseq, int64_t C, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const char* op = "cls_pool_forward";
  simt::launch<cls_pool_forward_kernel>({grid_for(nseq, 1, op), kThreads, 0, stream_of(rt)}, out,
                                        inp, cu_seqlens, C);
  SBERT_LAUNCH_CHECK(op);
}

static void cls_pool_backward_impl(float* dinp, const float* dout, const int64_t* cu_seqlens,
                                   int64_t nseq, int64_t C, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const char* op = "cls_pool_backward";
  const dim3 grid(grid_for(nseq, 1, op), kTokenSplit);
  simt::launch<cls_pool_backward_kernel>({grid, kThreads, 0, stream_of(rt)}, dinp, dout, cu_seqlens,
                                         C);
  SBERT_LAUNCH_CHECK(op);
}

static void l2norm_forward_impl(float* out, float* norm, const float* inp, int64_t rows, int64_t C,
                                Runtime& rt) {
  if (rows == 0) return;
  const char* op = "l2norm_forward";
  simt::launch<l2norm_forward_kernel>(
      {grid_for(rows, kRowWarps, op), dim3(kWarp, kRowWarps), 0, stream_of(rt)}, out, norm, inp,
      rows, C);
  SBERT_LAUNCH_CHECK(op);
}

static void l2norm_backward_impl(float* dinp, const float* dout, const float* out,
                                 const float* norm, int64_t rows, int64_t C, Runtime& rt) {
  if (rows == 0) return;
  const char* op = "l2norm_backward";
  simt::launch<l2norm_backward_kernel>(
      {grid_for(rows, kRowWarps, op), dim3(kWarp, kRowWarps), 0, stream_of(rt)}, dinp, dout, out,
      norm, rows, C);
  SBERT_LAUNCH_CHECK(op);
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void mean_pool_forward(const PoolForwardArgs<float>& a, Runtime& rt) {
  mean_pool_forward_impl(a.out, a.inp, a.cu_seqlens, a.nseq, a.C, rt);
}
void mean_pool_backward(const PoolBackwardArgs<float>& a, Runtime& rt) {
  mean_pool_backward_impl(a.dinp, a.dout, a.cu_seqlens, a.nseq, a.C, rt);
}
void cls_pool_forward(const PoolForwardArgs<float>& a, Runtime& rt) {
  cls_pool_forward_impl(a.out, a.inp, a.cu_seqlens, a.nseq, a.C, rt);
}
void cls_pool_backward(const PoolBackwardArgs<float>& a, Runtime& rt) {
  cls_pool_backward_impl(a.dinp, a.dout, a.cu_seqlens, a.nseq, a.C, rt);
}
void l2norm_forward(const L2NormForwardArgs<float>& a, Runtime& rt) {
  l2norm_forward_impl(a.out, a.norm, a.inp, a.rows, a.C, rt);
}
void l2norm_backward(const L2NormBackwardArgs<float>& a, Runtime& rt) {
  l2norm_backward_impl(a.dinp, a.dout, a.out, a.norm, a.rows, a.C, rt);
}

}  // namespace sbert::cuda
