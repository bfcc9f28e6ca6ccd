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

// erf for float: the rational approximation of Eigen's generic_fast_erf_float (also XLA's),
// a few ulp on [-4, 4]; outside, erf rounds to +-1 in float.
inline float erf_poly(float a) {
  const float x = a < -4.0f ? -4.0f : (a > 4.0f ? 4.0f : a);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

// Exact GELU x Phi(x) in float, the very expression of cpu/gelu.cpp's forward (same operations
// in the same order), so the GEMM's fused GELU epilogue gives the element-wise pass's bits.
inline float gelu_erf(float x) {
  return x * (0.5f * (1.0f + erf_poly(x * static_cast<float>(0.70710678118654752440L))));
}

}  // namespace sbert::cpu
