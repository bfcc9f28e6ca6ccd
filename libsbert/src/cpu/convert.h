// fp32 <-> bf16 conversions (round to nearest even, NaN kept NaN: core/dtype.h), the twins of
// cuda/convert.cu. bf16 values are their 16 bits.
#pragma once

#include <cstdint>

namespace sbert::cpu {

void to_bf16(uint16_t* out, const float* in, int64_t n);    // out (n) = bf16(in (n))
void from_bf16(float* out, const uint16_t* in, int64_t n);  // exact

}  // namespace sbert::cpu
