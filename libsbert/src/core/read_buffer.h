// The buffer of one streaming pass over a file.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace sbert {

// 1 MiB, or the file's size when that is smaller: opening a small file (a config, a test's
// data, one input of a fuzzer) should not zero a megabyte of fresh pages each time.
inline std::vector<char> read_buffer(int fd) {
  constexpr size_t kMax = size_t{1} << 20;
  size_t n = kMax;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0) {
    n = std::clamp(static_cast<size_t>(st.st_size) + 1, size_t{4096}, kMax);
  }
  return std::vector<char>(n);
}

}  // namespace sbert
