// fp32 <-> bf16 conversions of the mixed-precision path (trainer.precision bf16-mixed), the
// twins of cpu/convert.cpp: the same integer rounding (nearest even, NaN kept NaN) as
// core/dtype.h's f32_to_bf16, so both devices give the same bits.
#include "cuda/common.cuh"
#include "cuda/mixed.h"
#include "cuda/runtime_impl.cuh"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void to_bf16_kernel(uint16_t* out, const float* in, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  unsigned u = __float_as_uint(in[i]);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    out[i] = static_cast<uint16_t>((u >> 16) | 0x40u);
    return;
  }
  u += 0x7fffu + ((u >> 16) & 1u);
  out[i] = static_cast<uint16_t>(u >> 16);
}

__global__ void from_bf16_kernel(float* out, const uint16_t* in, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  out[i] = __uint_as_float(static_cast<unsigned>(in[i]) << 16);
}

}  // namespace

void to_bf16(uint16_t* out, const float* in, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<to_bf16_kernel>({grid_for(n, kThreads, "to_bf16"), kThreads, 0, stream_of(rt)}, out,
                               in, n);
  SBERT_LAUNCH_CHECK("to_bf16");
}

void from_bf16(float* out, const uint16_t* in, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<from_bf16_kernel>({grid_for(n, kThreads, "from_bf16"), kThreads, 0, stream_of(rt)},
                                 out, in, n);
  SBERT_LAUNCH_CHECK("from_bf16");
}

void bind_bf16_weights(const float* block, int64_t count, Runtime& rt) {
  SBERT_CHECK(count >= 0 && (block || count == 0), "[bf16 weights] block ",
              static_cast<const void*>(block), " of ", count, " floats");
  Runtime::Impl& r = rt.impl();
  if (r.weight_copy && r.weight_count != count) {
    SBERT_CUDA_CHECK(cudaStreamSynchronize(r.stream));  // queued GEMMs may still read it
    SBERT_CUDA_CHECK(cudaFree(r.weight_copy));
    r.weight_copy = nullptr;
  }
  if (!r.weight_copy && block && count > 0) {
    SBERT_CUDA_CHECK(cudaMalloc(&r.weight_copy, static_cast<size_t>(count) * sizeof(uint16_t)));
  }
  r.weight_block = block;
  r.weight_count = block ? count : 0;
  r.weight_copy_fresh = false;
}

int64_t bf16_weight_casts(Runtime& rt) { return rt.impl().weight_casts; }

void refresh_bf16_weights(Runtime& rt) {
  Runtime::Impl& r = rt.impl();
  SBERT_CHECK(r.weight_copy, "[bf16 weights] refresh without a bound parameter block");
  to_bf16(r.weight_copy, r.weight_block, r.weight_count, rt);
  r.weight_copy_fresh = true;
}

}  // namespace sbert::cuda
