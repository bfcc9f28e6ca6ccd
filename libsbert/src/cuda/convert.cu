// fp32 <-> bf16 and fp32 <-> fp16 conversions of the mixed-precision paths (trainer.precision
// bf16-mixed, 16-mixed), the twins of cpu/convert.cpp: the same rounding (nearest even, NaN kept
// NaN) as core/dtype.h's f32_to_bf16 / f32_to_f16, in integer arithmetic only, so both devices
// give the same bits whatever the floating-point mode.
#include "cuda/common.cuh"
#include "cuda/mixed.h"

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

// IEEE binary16, round to nearest even with subnormals; |x| >= 65520 (halfway past 65504) is inf.
__device__ uint16_t f16_bits(float x) {
  const unsigned u = __float_as_uint(x);
  const unsigned sign = (u >> 16) & 0x8000u;
  const unsigned a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (a < 0x38800000u) {  // below 2^-14: a subnormal (or zero) in units of 2^-24
    const unsigned e = a >> 23;
    if (e < 102u) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
    const unsigned m = (a & 0x7fffffu) | 0x800000u;
    const unsigned s = 126u - e;  // 14..24
    unsigned q = m >> s;
    const unsigned rem = m & ((1u << s) - 1u), half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  unsigned v = a - 0x38000000u;  // rebias the exponent (127 -> 15), then round 13 bits away
  v += 0xfffu + ((v >> 13) & 1u);
  return static_cast<uint16_t>(sign | (v >> 13));
}

__device__ float f16_value(uint16_t h) {
  const unsigned sign = static_cast<unsigned>(h & 0x8000u) << 16;
  const unsigned exp = (h >> 10) & 0x1fu;
  unsigned man = h & 0x3ffu;
  if (exp == 31u) return __uint_as_float(sign | 0x7f800000u | (man << 13));
  if (exp != 0u) return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
  if (man == 0u) return __uint_as_float(sign);
  unsigned e = 113u;  // subnormal man * 2^-24: normalise
  while ((man & 0x400u) == 0u) {
    man <<= 1;
    --e;
  }
  return __uint_as_float(sign | (e << 23) | ((man & 0x3ffu) << 13));
}

__global__ void to_f16_kernel(uint16_t* out, const float* in, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) out[i] = f16_bits(in[i]);
}

__global__ void from_f16_kernel(float* out, const uint16_t* in, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) out[i] = f16_value(in[i]);
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

void to_f16(uint16_t* out, const float* in, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<to_f16_kernel>({grid_for(n, kThreads, "to_f16"), kThreads, 0, stream_of(rt)}, out,
                              in, n);
  SBERT_LAUNCH_CHECK("to_f16");
}

void from_f16(float* out, const uint16_t* in, int64_t n, Runtime& rt) {
  if (n == 0) return;
  simt::launch<from_f16_kernel>({grid_for(n, kThreads, "from_f16"), kThreads, 0, stream_of(rt)},
                                out, in, n);
  SBERT_LAUNCH_CHECK("from_f16");
}

}  // namespace sbert::cuda
