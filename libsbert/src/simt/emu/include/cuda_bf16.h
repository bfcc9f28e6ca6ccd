// SIMT emulator (-DSBERT_CUDA=EMU): the part of CUDA's <cuda_bf16.h> that libsbert's kernels use,
// for the host compiler. Same names and semantics as CUDA's: 16-bit storage (the upper half of
// an IEEE binary32), conversions from float round to nearest even, NaN stays NaN (CUDA's
// canonical 0x7fff), the arithmetic intrinsics compute in float and round once to bf16 (exact
// for +, -, *: binary32 has more than 2 * 8 + 2 significand bits, so rounding twice is
// innocuous).
//
// Deliberately absent: the arithmetic operators of __nv_bfloat16 (CUDA's are ambiguous with the
// implicit conversion to float in mixed expressions); kernels convert to float explicitly.
#pragma once

#include <cuda_runtime.h>

#include <bit>
#include <cstdint>

struct __nv_bfloat16_raw {
  unsigned short x;
};
struct __nv_bfloat162_raw {
  unsigned short x, y;
};

namespace simt::emu::bf16 {
constexpr unsigned short round_rn(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;  // NaN: CUDA's canonical bf16 NaN
  // Adding 0x7fff plus the lowest kept bit rounds half to even; a carry into the exponent
  // gives the next binade or infinity, as it should.
  return static_cast<unsigned short>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
constexpr unsigned short round_rz(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
  return static_cast<unsigned short>(u >> 16);
}
// double -> bf16 in one rounding (as CUDA's __double2bfloat16): round to float to odd first
// (binary32 keeps more than 8 + 2 bits, so the second rounding to nearest is then exact).
constexpr unsigned short round_rn_double(double d) {
  if (d != d) return 0x7fffu;
  float f = static_cast<float>(d);
  uint32_t u = std::bit_cast<uint32_t>(f);
  const double back = static_cast<double>(f);
  if (back != d && (u & 1u) == 0u && (u & 0x7fffffffu) < 0x7f800000u) {
    // f was rounded to an even neighbour: the odd neighbour on d's side is the round-to-odd.
    const bool away = (back < d) == (f >= 0.0f);
    u = away ? u + 1u : u - 1u;
    f = std::bit_cast<float>(u);
  }
  return round_rn(f);
}
constexpr float widen(unsigned short h) { return std::bit_cast<float>(uint32_t{h} << 16); }
}  // namespace simt::emu::bf16

struct __nv_bfloat16 {
 protected:
  // Protected as in CUDA: kernels reach the bits through __bfloat16_as_ushort or
  // __nv_bfloat16_raw, so an emulated kernel compiles under nvcc too.
  unsigned short __x;

 public:
  __nv_bfloat16() = default;  // trivial, as CUDA's: device arrays of bf16 stay uninitialised
  constexpr __nv_bfloat16(const __nv_bfloat16_raw& r) : __x(r.x) {}
  constexpr __nv_bfloat16(float f) : __x(simt::emu::bf16::round_rn(f)) {}
  constexpr __nv_bfloat16(double d) : __x(simt::emu::bf16::round_rn_double(d)) {}
  constexpr __nv_bfloat16& operator=(float f) { return *this = __nv_bfloat16(f); }
  constexpr __nv_bfloat16& operator=(double d) { return *this = __nv_bfloat16(d); }
  constexpr operator __nv_bfloat16_raw() const { return {__x}; }
  constexpr operator float() const { return simt::emu::bf16::widen(__x); }
};
static_assert(sizeof(__nv_bfloat16) == 2);

struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
  __nv_bfloat162() = default;
  constexpr __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
  constexpr __nv_bfloat162(const __nv_bfloat162_raw& r)
      : x(__nv_bfloat16_raw{r.x}), y(__nv_bfloat16_raw{r.y}) {}
  constexpr operator __nv_bfloat162_raw() const {
    return {__nv_bfloat16_raw(x).x, __nv_bfloat16_raw(y).x};
  }
};
static_assert(sizeof(__nv_bfloat162) == 4);

using nv_bfloat16 = __nv_bfloat16;
using nv_bfloat162 = __nv_bfloat162;

// ---- conversions ---------------------------------------------------------------------------
constexpr __nv_bfloat16 __float2bfloat16(float a) { return __nv_bfloat16_raw{simt::emu::bf16::round_rn(a)}; }
constexpr __nv_bfloat16 __float2bfloat16_rn(float a) { return __float2bfloat16(a); }
constexpr __nv_bfloat16 __float2bfloat16_rz(float a) { return __nv_bfloat16_raw{simt::emu::bf16::round_rz(a)}; }
constexpr unsigned short __bfloat16_as_ushort(__nv_bfloat16 a) { return __nv_bfloat16_raw(a).x; }
constexpr float __bfloat162float(__nv_bfloat16 a) { return simt::emu::bf16::widen(__bfloat16_as_ushort(a)); }
constexpr __nv_bfloat16 __double2bfloat16(double a) { return a; }
constexpr __nv_bfloat162 __float2bfloat162_rn(float a) { return {__float2bfloat16(a), __float2bfloat16(a)}; }
constexpr __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__float2bfloat16(lo), __float2bfloat16(hi)};
}
constexpr __nv_bfloat162 __float22bfloat162_rn(float2 a) { return __floats2bfloat162_rn(a.x, a.y); }
constexpr float2 __bfloat1622float2(__nv_bfloat162 a) {
  return {__bfloat162float(a.x), __bfloat162float(a.y)};
}
constexpr __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 lo, __nv_bfloat16 hi) { return {lo, hi}; }
constexpr __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 a) { return {a, a}; }
constexpr __nv_bfloat16 __low2bfloat16(__nv_bfloat162 a) { return a.x; }
constexpr __nv_bfloat16 __high2bfloat16(__nv_bfloat162 a) { return a.y; }
constexpr float __low2float(__nv_bfloat162 a) { return __bfloat162float(a.x); }
constexpr float __high2float(__nv_bfloat162 a) { return __bfloat162float(a.y); }
constexpr __nv_bfloat16 __ushort_as_bfloat16(unsigned short a) { return __nv_bfloat16_raw{a}; }
constexpr short __bfloat16_as_short(__nv_bfloat16 a) { return static_cast<short>(__bfloat16_as_ushort(a)); }
constexpr __nv_bfloat16 __short_as_bfloat16(short a) {
  return __nv_bfloat16_raw{static_cast<unsigned short>(a)};
}

// ---- arithmetic: in float, one rounding to bf16 ----------------------------------------------
constexpr __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) {
  return __float2bfloat16(__bfloat162float(a) + __bfloat162float(b));
}
constexpr __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) {
  return __float2bfloat16(__bfloat162float(a) - __bfloat162float(b));
}
constexpr __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) {
  return __float2bfloat16(__bfloat162float(a) * __bfloat162float(b));
}
constexpr __nv_bfloat16 __hneg(__nv_bfloat16 a) {
  return __nv_bfloat16_raw{static_cast<unsigned short>(__bfloat16_as_ushort(a) ^ 0x8000u)};
}
constexpr __nv_bfloat162 __hadd2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__hadd(a.x, b.x), __hadd(a.y, b.y)};
}
constexpr __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__hmul(a.x, b.x), __hmul(a.y, b.y)};
}
constexpr bool __hisnan(__nv_bfloat16 a) { return (__bfloat16_as_ushort(a) & 0x7fffu) > 0x7f80u; }
constexpr bool __hisinf(__nv_bfloat16 a) { return (__bfloat16_as_ushort(a) & 0x7fffu) == 0x7f80u; }
