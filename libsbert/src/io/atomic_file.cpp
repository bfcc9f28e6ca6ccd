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

AtomicFile::AtomicFile(const std::filesystem::path& path) : path_(path), target_(path) {
  namespace fs = std::filesystem;
  SBERT_CHECK(!path_.empty(), "[io] AtomicFile: empty path");
  if (path_ == "-") {
    // A dup: closing it at commit leaves the process's stdout open for the app.
    const int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    SBERT_CHECK(fd >= 0, "[io] -: standard output is closed");
    f_ = ::fdopen(fd, "wb");
    SBERT_CHECK(f_ != nullptr, "[io] -: cannot write to standard output");
    mode_ = Mode::Stdout;
    return;
  }
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(path_, ec))) {
    target_ = fs::weakly_canonical(path_, ec);  // follows the chain; a dangling link's target
    SBERT_CHECK(!ec, "[io] ", path_.string(), ": cannot resolve the symbolic link (",
                ec.message(), ")");
  }
  const fs::file_status st = fs::status(target_, ec);
  SBERT_CHECK(!fs::is_directory(st), "[io] ", path_.string(), ": is a folder, not a file");
  if (fs::exists(st) && !fs::is_regular_file(st)) {
    // A device, FIFO or socket: write into it; replacing it would destroy it.
    const int fd = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      fail("[io] ", path_.string(), ": cannot open for writing (", errno_text(e), ")");
    }
    f_ = ::fdopen(fd, "wb");
    if (f_ == nullptr) ::close(fd);
    SBERT_CHECK(f_ != nullptr, "[io] ", path_.string(), ": cannot open for writing");
    mode_ = Mode::Through;
    return;
  }
  tmp_ = temp_name(target_);
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
  if (!committed_ && mode_ == Mode::Replace) {
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
    fail("[io] ", path_.string(), ": write failed after ", written, " of ", n, " bytes (",
         errno_text(e), ")", mode_ == Mode::Replace ? "; the previous file is untouched" : "");
  }
}

void AtomicFile::commit() {
  SBERT_CHECK(!committed_, "[io] ", path_.string(), ": commit called twice");
  SBERT_CHECK(f_ != nullptr, "[io] ", path_.string(), ": commit after a failed commit");
  std::FILE* f = f_;
  f_ = nullptr;  // closed below whatever happens; the destructor then only removes the temp
  const char* untouched = mode_ == Mode::Replace ? "; the previous file is untouched" : "";
  if (std::fflush(f) != 0) {
    const int e = errno;
    std::fclose(f);
    fail("[io] ", path_.string(), ": write failed (", errno_text(e), ")", untouched);
  }
  if (mode_ == Mode::Replace && ::fsync(::fileno(f)) != 0) {
    const int e = errno;
    std::fclose(f);
    fail("[io] ", path_.string(), ": fsync of ", tmp_.string(), " failed (", errno_text(e), ")",
         untouched);
  }
  if (std::fclose(f) != 0) {
    const int e = errno;
    fail("[io] ", path_.string(), ": closing failed (", errno_text(e), ")", untouched);
  }
  if (mode_ == Mode::Replace) {
    if (std::rename(tmp_.c_str(), target_.c_str()) != 0) {
      const int e = errno;
      fail("[io] ", path_.string(), ": cannot rename ", tmp_.string(), " over it (",
           errno_text(e), ")");
    }
    fsync_parent_dir(target_);
  }
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

std::string read_file(const std::filesystem::path& path) {
  if (path == "-") {  // standard input, to its end
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int e = errno;
        fail("[io] -: reading standard input failed after ", out.size(), " bytes (",
             errno_text(e), ")");
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
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
