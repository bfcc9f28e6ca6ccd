// sbert::Error: the one exception type libsbert throws.
// Messages start with the operation in brackets and carry the values that were wrong,
// e.g. "[safetensors] model.safetensors: tensor 'x' ends at byte 812 but the file has 640".
#pragma once

#include <stdexcept>
#include <string>

#include "sbert/export.h"

namespace sbert {

class SBERT_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace sbert
