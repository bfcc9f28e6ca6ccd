// Philox4x32-10 on the device: the same function as core/rng.h's philox4x32_10 (which is
// constexpr host code), so GPU dropout masks equal the CPU's bit for bit. The host turns a
// DropoutSpec into a DropoutKey (threshold and scale computed once, as the CPU computes them).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/rng.h"

namespace sbert::cuda {

struct DropoutKey {
  uint32_t seed_lo = 0, seed_hi = 0, stream = 0, step = 0;
  uint32_t threshold = 0;  // a word below it drops the element
  float scale = 1.0f;      // 1 / (1 - p), rounded as cpu::dropout_factors<float> rounds it
  bool active = false;
};

inline DropoutKey dropout_key(const DropoutSpec& spec) {
  DropoutKey k;
  k.active = spec.active();
  if (!k.active) return k;
  k.seed_lo = static_cast<uint32_t>(spec.seed);
  k.seed_hi = static_cast<uint32_t>(spec.seed >> 32);
  k.stream = spec.stream;
  k.step = spec.step;
  k.threshold = spec.threshold();
  k.scale = 1.0f / (1.0f - spec.p);
  return k;
}

__device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint32_t hi0 = __umulhi(kM0, c.x), lo0 = kM0 * c.x;
    const uint32_t hi1 = __umulhi(kM1, c.z), lo1 = kM1 * c.z;
    c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
  }
  return c;
}

// The four words of elements 4 group .. 4 group + 3.
__device__ __forceinline__ uint4 dropout_words(const DropoutKey& k, uint64_t group) {
  return philox4x32_10(make_uint4(static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
                                  k.stream, k.step),
                       k.seed_lo, k.seed_hi);
}

__device__ __forceinline__ uint32_t lane_word(const uint4& w, uint64_t lane) {
  return lane == 0 ? w.x : lane == 1 ? w.y : lane == 2 ? w.z : w.w;
}

// 0 or 1 / (1 - p) for element e (1 when inactive).
__device__ __forceinline__ float dropout_factor(const DropoutKey& k, uint64_t e) {
  if (!k.active) return 1.0f;
  const uint32_t w = lane_word(dropout_words(k, e >> 2), e & 3);
  return w >= k.threshold ? k.scale : 0.0f;
}

}  // namespace sbert::cuda
