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

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace sbert

#define SBERT_CHECK(cond, ...)               \
  do {                                       \
    if (!(cond)) ::sbert::fail(__VA_ARGS__); \
  } while (0)
