// Exact erf GELU, the twin of cpu/gelu.cpp (erff / expf: within a few ulp of glibc's); and the
// tanh GELU of bf16-mixed (cuda/mixed.h), the function of cuBLASLt's GELU epilogues.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/mixed.h"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

__global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  out[i] = 0.5f * x * (1.0f + erff(x * kInvSqrt2));
}

// dinp may alias dout: each thread reads its element before writing it.
__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  const float cdf = 0.5f * (1.0f + erff(x * kInvSqrt2));
  const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
  dinp[i] = dout[i] * (cdf + x * pdf);
}

constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluC = 0.044715f;

__global__ void gelu_tanh_forward_kernel(float* out, const float* inp, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  out[i] = 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kGeluC * x * x * x)));
}

// d/dx of the tanh form; dinp may alias dout.
__global__ void gelu_tanh_backward_kernel(float* dinp, const float* inp, const float* dout,
                                          int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float x = inp[i];
  const float t = tanhf(kSqrt2OverPi * (x + kGeluC * x * x * x));
  const float d =
      0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluC * x * x);
  dinp[i] = dout[i] * d;
}

}  // namespace

void gelu_tanh_forward(float* out, const float* inp, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<gelu_tanh_forward_kernel>(
      {grid_for(n, kThreads, "gelu_tanh_forward"), kThreads, 0, stream_of(rt)}, out, inp, n);
  SBERT_LAUNCH_CHECK("gelu_tanh_forward");
}

void gelu_tanh_backward(float* dinp, const float* inp, const float* dout, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<gelu_tanh_backward_kernel>(
      {grid_for(n, kThreads, "gelu_tanh_backward"), kThreads, 0, stream_of(rt)}, dinp, inp, dout,
      n);
  SBERT_LAUNCH_CHECK("gelu_tanh_backward");
}

static void gelu_forward_impl(float* out, const float* inp, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<gelu_forward_kernel>(
      {grid_for(n, kThreads, "gelu_forward"), kThreads, 0, stream_of(rt)}, out, inp, n);
  SBERT_LAUNCH_CHECK("gelu_forward");
}

static void gelu_backward_impl(float* dinp, const float* inp, const float* dout, int64_t n,
                               Runtime& rt) {
  if (n == 0) return;
  simt::launch<gelu_backward_kernel>(
      {grid_for(n, kThreads, "gelu_backward"), kThreads, 0, stream_of(rt)}, dinp, inp, dout, n);
  SBERT_LAUNCH_CHECK("gelu_backward");
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void gelu_forward(const GeluForwardArgs<float>& a, Runtime& rt) {
  gelu_forward_impl(a.out, a.inp, a.n, rt);
}
void gelu_backward(const GeluBackwardArgs<float>& a, Runtime& rt) {
  gelu_backward_impl(a.dinp, a.inp, a.dout, a.n, rt);
}

}  // namespace sbert::cuda
