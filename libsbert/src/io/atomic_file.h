// AtomicFile: write to "<path>.tmp.<pid>.<n>", flush and fsync, then rename over path, so a crash
// or an error mid-write (a full disk, a size limit) never leaves a partial file at path nor
// damages what was there. What the path already is decides how it is written
// (docs/robustness.md):
//   "-"                          standard output (nothing to rename; a write error is an error)
//   a regular file, or nothing   temp + rename, as above
//   a symlink                    its target is replaced the same way; the link stays a link
//   a device, FIFO or socket     written through (opened for writing, never replaced): e.g.
//                                /dev/null stays a character device even when run as root
//   a folder                     refused: "[io] <path>: is a folder, not a file"
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
  enum class Mode { Replace, Through, Stdout };
  std::filesystem::path path_;  // as given, for messages
  std::filesystem::path target_;  // the file replaced (path_, or a symlink's target)
  std::filesystem::path tmp_;     // Replace only
  Mode mode_ = Mode::Replace;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Whole-file helpers.

}  // namespace sbert
