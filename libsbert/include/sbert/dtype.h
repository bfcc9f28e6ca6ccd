// DType: element types of weight files (safetensors' names: F32, BF16, ...).
#pragma once

#include <cstdint>

namespace sbert {

enum class DType : uint8_t { F32, F16, BF16, I32, I64, F64, U8, I8 };

}  // namespace sbert
