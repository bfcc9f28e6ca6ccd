#include "io/checksum.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "core/check.h"
#include "core/read_buffer.h"
#include "sbert/util.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

std::string hex(const XXH128_hash_t& h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);  // big-endian: high 64 bits first, as xxh128sum prints
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * sizeof c.digest, '0');
  for (size_t i = 0; i < sizeof c.digest; ++i) {
    out[2 * i] = digits[c.digest[i] >> 4];
    out[2 * i + 1] = digits[c.digest[i] & 15];
  }
  return out;
}

bool is_hex_digest(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A manifest path must stay inside the folder: relative, no "..", no empty components.
bool is_safe_relative(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

std::string xxh128_file(const fs::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  SBERT_CHECK(f, "[checksum] cannot open ", file.string());
  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  SBERT_CHECK(state && XXH3_128bits_reset(state.get()) == XXH_OK, "[checksum] out of memory");
  std::vector<char> buf = read_buffer(fileno(f.get()));
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    XXH3_128bits_update(state.get(), buf.data(), n);
  }
  SBERT_CHECK(!std::ferror(f.get()), "[checksum] read error in ", file.string());
  return hex(XXH3_128bits_digest(state.get()));
}

void write_checksum_manifest(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_directory()) continue;
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    SBERT_CHECK(e.is_regular_file() && !e.is_symlink(), "[checksum] ", e.path().string(),
                " is not a regular file: a checkpoint holds only files and folders");
    if (rel != kChecksumManifest) files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  std::string manifest;
  for (const std::string& rel : files) {
    SBERT_CHECK(rel.find('\n') == std::string::npos && rel.find('\\') == std::string::npos,
                "[checksum] file name ", rel, " in ", dir.string(),
                " has a newline or backslash; xxh128sum's format cannot list it");
    manifest += xxh128_file(dir / rel) + "  " + rel + "\n";
  }
  write_file_atomic(dir / kChecksumManifest, manifest);
}

std::vector<std::string> verify_checksum_manifest(const fs::path& dir) {
  const fs::path mf = dir / kChecksumManifest;
  std::error_code ec;
  if (!fs::is_regular_file(mf, ec)) return {cat(kChecksumManifest, ": missing")};
  std::string text;
  try {
    text = read_file(mf);
  } catch (const Error& e) {
    return {cat(kChecksumManifest, ": unreadable (", e.what(), ")")};
  }
  std::vector<std::string> problems;
  if (text.empty()) return {cat(kChecksumManifest, ": empty")};
  if (text.back() != '\n') return {cat(kChecksumManifest, ": truncated (no final newline)")};
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_no;
    if (line.size() < 35 || !is_hex_digest(line.substr(0, 32)) || line.substr(32, 2) != "  " ||
        !is_safe_relative(line.substr(34))) {
      problems.push_back(cat(kChecksumManifest, ": line ", line_no,
                             " is not '<32 hex digits>  <relative file>'"));
      continue;
    }
    const std::string rel(line.substr(34));
    const fs::path file = dir / rel;
    if (!fs::is_regular_file(file, ec)) {
      problems.push_back(cat(rel, ": missing"));
      continue;
    }
    std::string got;
    try {
      got = xxh128_file(file);
    } catch (const Error& e) {
      problems.push_back(cat(rel, ": unreadable (", e.what(), ")"));
      continue;
    }
    if (got != line.substr(0, 32)) {
      problems.push_back(cat(rel, ": checksum mismatch (the file is damaged: ",
                             fs::file_size(file, ec), " bytes, xxh128 ", got, ", written as ",
                             line.substr(0, 32), ")"));
    }
  }
  return problems;
}

}  // namespace sbert
