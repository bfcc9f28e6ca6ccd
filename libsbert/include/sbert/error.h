// sbert::Error: the one exception type libsbert throws.
// Messages start with the operation in brackets and carry the values that were wrong,
// e.g. "[safetensors] model.safetensors: tensor 'x' ends at byte 812 but the file has 640".
#pragma once

#include <stdexcept>
#include <string>

namespace sbert {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace sbert
