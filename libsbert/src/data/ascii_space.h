// ASCII whitespace as the data readers and the batch builder treat it: NeMo's Python .strip()
// on the ASCII range (space, \t, \n, \r, \f, \v), so a text that is only whitespace is empty.
#pragma once

#include <algorithm>
#include <string_view>

namespace sbert {

inline constexpr const char* kAsciiSpace = " \t\n\r\f\v";

inline bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

inline std::string_view strip_ascii(std::string_view s) {
  const size_t b = s.find_first_not_of(kAsciiSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kAsciiSpace) - b + 1);
}

}  // namespace sbert
