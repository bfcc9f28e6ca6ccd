// Branch-free float math for the CPU kernels, written so that GCC vectorizes loops over it
// with the baseline instruction set (no -march); used where libm's scalar calls dominated.
#pragma once

#include <cstdint>
#include <cstring>

namespace sbert::cpu {

// exp for float arguments <= ~80 (Cephes expf: 2^n e^r, |r| <= ln2 / 2, degree-5 polynomial;
// about 1 ulp); arguments below -87 give ~0 (exp(-87) = 1.6e-38). Branch-free, so loops over
// it vectorize (with -fno-trapping-math, set for the library).
inline float exp_poly(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float fx = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(fx);  // truncation; floor for negative fx below
  n -= static_cast<float>(n) > fx ? 1 : 0;
  const float fn = static_cast<float>(n);
  const float r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

}  // namespace sbert::cpu
