// AtomicFile: write to "<path>.tmp.<pid>.<n>", flush and fsync, then rename over path, so a crash
// or an error mid-write never leaves a partial file at path nor damages what was there.
#pragma once

#include "sbert/util.h"

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace sbert {

class AtomicFile {
 public:
  explicit AtomicFile(const std::filesystem::path& path);  // throws if the temp can't be created
  ~AtomicFile();                                           // removes the temp if not committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // flush, fsync, rename; throws sbert::Error naming the path on failure

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Whole-file helpers.

}  // namespace sbert
