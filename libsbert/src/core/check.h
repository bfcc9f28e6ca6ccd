// Internal error helpers: build a message from pieces and throw sbert::Error.
//   SBERT_CHECK(n > 0, "[layernorm] rows must be positive, got ", n);
#pragma once

#include <sstream>
#include <string>
#include <utility>

#include "sbert/error.h"

namespace sbert {

template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream s;
  (s << ... << std::forward<Args>(args));
  return s.str();
}

// Errors are one line, but they quote input (a header, a CSV field, a JSON key) that may hold
// line breaks or terminal control bytes: those are escaped (\n, \r, \xHH; a tab stays).
inline std::string one_line(std::string m) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : m) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 || c == '\t') {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(one_line(cat(std::forward<Args>(args)...)));
}

}  // namespace sbert

#define SBERT_CHECK(cond, ...)               \
  do {                                       \
    if (!(cond)) ::sbert::fail(__VA_ARGS__); \
  } while (0)
