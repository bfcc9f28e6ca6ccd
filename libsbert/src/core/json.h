// Writing JSON strings: the one escaping routine for every JSON file libsbert writes
// (safetensors headers, tokenizer files, checkpoints, exports).
#pragma once

#include <string>
#include <string_view>

namespace sbert {

// Appends s as a quoted JSON string: ", \ and control characters escaped, UTF-8 kept as is.
void append_json_string(std::string& out, std::string_view s);

inline std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace sbert
