// Inverted dropout, the twin of cpu/dropout.cpp: one thread per group of four elements (one
// Philox call), masks equal to the CPU's bit for bit (cuda/philox.cuh).
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/philox.cuh"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;

// out = (a + b) * mask / (1 - p); b may be null; out may alias a or b. Inactive key: factor 1.
__global__ void dropout_kernel(float* out, const float* a, const float* b, int64_t n,
                               DropoutKey key) {
  const int64_t g = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t i0 = 4 * g;
  if (i0 >= n) return;
  uint4 w = make_uint4(0u, 0u, 0u, 0u);
  if (key.active) w = dropout_words(key, static_cast<uint64_t>(g));
  for (int lane = 0; lane < 4 && i0 + lane < n; ++lane) {
    const int64_t i = i0 + lane;
    const float x = b ? a[i] + b[i] : a[i];
    if (key.active) {
      out[i] = x * (lane_word(w, static_cast<uint64_t>(lane)) >= key.threshold ? key.scale : 0.0f);
    } else {
      out[i] = x;
    }
  }
}

void launch(float* out, const float* a, const float* b, int64_t n, const DropoutSpec& spec,
            Runtime& rt, const char* op) {
  if (n == 0) return;
  if (!spec.active() && !b) {
    if (out != a) {
      SBERT_CUDA_CHECK(cudaMemcpyAsync(out, a, static_cast<size_t>(n) * sizeof(float),
                                       cudaMemcpyDeviceToDevice, stream_of(rt)));
    }
    return;
  }
  const int64_t groups = (n + 3) / 4;
  simt::launch<dropout_kernel>({grid_for(groups, kThreads, op), kThreads, 0, stream_of(rt)}, out, a,
                               b, n, dropout_key(spec));
  SBERT_LAUNCH_CHECK(op);
}

}  // namespace

static void dropout_forward_impl(float* out, const float* inp, int64_t n, const DropoutSpec& spec,
                                 Runtime& rt) {
  launch(out, inp, nullptr, n, spec, rt, "dropout_forward");
}

static void dropout_backward_impl(float* dinp, const float* dout, const float* dout2, int64_t n,
                                  const DropoutSpec& spec, Runtime& rt) {
  launch(dinp, dout, dout2, n, spec, rt, "dropout_backward");
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void dropout_forward(const DropoutForwardArgs<float>& a, Runtime& rt) {
  dropout_forward_impl(a.out, a.inp, a.n, a.spec, rt);
}
void dropout_backward(const DropoutBackwardArgs<float>& a, Runtime& rt) {
  dropout_backward_impl(a.dinp, a.dout, a.dout2, a.n, a.spec, rt);
}

}  // namespace sbert::cuda
