// fp32 <-> bf16 and fp32 <-> fp16 conversions (round to nearest even, NaN kept NaN: core/dtype.h),
// the twins of cuda/convert.cu. bf16 and fp16 values are their 16 bits; fp16 is IEEE binary16
// with subnormals, and an fp32 value at or above 65520 in magnitude becomes inf.
#pragma once

#include <cstdint>

namespace sbert::cpu {

void to_bf16(uint16_t* out, const float* in, int64_t n);    // out (n) = bf16(in (n))
void from_bf16(float* out, const uint16_t* in, int64_t n);  // exact
void to_f16(uint16_t* out, const float* in, int64_t n);     // out (n) = fp16(in (n))
void from_f16(float* out, const uint16_t* in, int64_t n);   // exact

}  // namespace sbert::cpu
