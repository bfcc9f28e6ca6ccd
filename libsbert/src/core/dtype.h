// DType: the element types libsbert reads, stores and computes in, with host conversions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "sbert/dtype.h"

namespace sbert {


size_t dtype_size(DType t);
const char* dtype_name(DType t);       // safetensors spelling: "F32", "BF16", ...
bool parse_dtype(const std::string& s, DType* out);  // false for an unknown name

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as PyTorch's float -> bfloat16 conversion; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace sbert
