#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/check.h"

namespace sbert {

namespace {

std::string errno_text(int e) { return std::generic_category().message(e); }

// "<path>.tmp.<pid>.<n>": unique per process and per AtomicFile, in the same directory as path so
// that the final rename stays within one file system.
std::filesystem::path temp_name(const std::filesystem::path& path) {
  static std::atomic<unsigned long> counter{0};
  std::filesystem::path tmp = path;
  tmp += cat(".tmp.", static_cast<long>(::getpid()), ".", counter.fetch_add(1));
  return tmp;
}

// Best effort: make the rename itself durable. Failure here is not an error (some file systems
// refuse to fsync directories).
void fsync_parent_dir(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(const std::filesystem::path& path) : path_(path), tmp_(temp_name(path)) {
  SBERT_CHECK(!path_.empty(), "[io] AtomicFile: empty path");
  // "x": fail rather than reuse a file that happens to exist under the temporary name.
  f_ = std::fopen(tmp_.c_str(), "wbx");
  if (f_ == nullptr) {
    const int e = errno;
    fail("[io] ", path_.string(), ": cannot create temporary file ", tmp_.string(), " (",
         errno_text(e), ")");
  }
}

AtomicFile::~AtomicFile() {
  if (f_ != nullptr) std::fclose(f_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  SBERT_CHECK(!committed_, "[io] ", path_.string(), ": write after commit");
  SBERT_CHECK(f_ != nullptr, "[io] ", path_.string(), ": write after a failed commit");
  if (n == 0) return;
  SBERT_CHECK(data != nullptr, "[io] ", path_.string(), ": write of ", n, " bytes from null");
  const size_t written = std::fwrite(data, 1, n, f_);
  if (written != n) {
    const int e = errno;
    fail("[io] ", path_.string(), ": write to ", tmp_.string(), " failed after ", written, " of ",
         n, " bytes (", errno_text(e), ")");
  }
}

void AtomicFile::commit() {
  SBERT_CHECK(!committed_, "[io] ", path_.string(), ": commit called twice");
  SBERT_CHECK(f_ != nullptr, "[io] ", path_.string(), ": commit after a failed commit");
  std::FILE* f = f_;
  f_ = nullptr;  // closed below whatever happens; the destructor then only removes the temp
  if (std::fflush(f) != 0) {
    const int e = errno;
    std::fclose(f);
    fail("[io] ", path_.string(), ": flushing ", tmp_.string(), " failed (", errno_text(e), ")");
  }
  if (::fsync(::fileno(f)) != 0) {
    const int e = errno;
    std::fclose(f);
    fail("[io] ", path_.string(), ": fsync of ", tmp_.string(), " failed (", errno_text(e), ")");
  }
  if (std::fclose(f) != 0) {
    const int e = errno;
    fail("[io] ", path_.string(), ": closing ", tmp_.string(), " failed (", errno_text(e), ")");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    fail("[io] ", path_.string(), ": cannot rename ", tmp_.string(), " over it (", errno_text(e),
         ")");
  }
  committed_ = true;
  fsync_parent_dir(path_);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

std::string read_file(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int e = errno;
    fail("[io] ", path.string(), ": cannot open (", errno_text(e), ")");
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f);
    out.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(f)) {
    const int e = errno;
    std::fclose(f);
    fail("[io] ", path.string(), ": read failed after ", out.size(), " bytes (", errno_text(e),
         ")");
  }
  std::fclose(f);
  return out;
}

}  // namespace sbert
