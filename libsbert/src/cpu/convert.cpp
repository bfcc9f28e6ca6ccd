#include "cpu/convert.h"

#include "core/dtype.h"

namespace sbert::cpu {

void to_bf16(uint16_t* out, const float* in, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(in[i]);
}

void from_bf16(float* out, const uint16_t* in, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(in[i]);
}

void to_f16(uint16_t* out, const float* in, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(in[i]);
}

void from_f16(float* out, const uint16_t* in, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
}

}  // namespace sbert::cpu
