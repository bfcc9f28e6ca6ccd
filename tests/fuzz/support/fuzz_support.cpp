#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "sbert/error.h"

namespace sbert::fuzz {

namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir;
  Scratch() {
    // /dev/shm when there: the readers take paths, and a RAM folder keeps that cheap.
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                           : fs::temp_directory_path();
    std::string tmpl = (base / "sbert-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("sbert fuzz: mkdtemp");
      std::abort();
    }
    dir = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

const fs::path& scratch() {
  static Scratch s;  // the scratch folder of this process, see the header
  return s.dir;
}

std::vector<std::string_view> split(const uint8_t* data, size_t size, size_t max_parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

fs::path write_file(const std::string& name, std::string_view bytes) {
  const fs::path p = scratch() / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "sbert fuzz: cannot write %s\n", p.c_str());
    std::abort();
  }
  return p;
}

void remove(const std::string& name) {
  std::error_code ec;
  fs::remove_all(scratch() / name, ec);
}

void write_parts(const uint8_t* data, size_t size, const std::vector<std::string>& names) {
  const std::vector<std::string_view> parts = split(data, size, names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    if (i < parts.size()) {
      write_file(names[i], parts[i]);
    } else {
      remove(names[i]);
    }
  }
}

void run(const std::function<void()>& f) {
  try {
    f();
  } catch (const sbert::Error& e) {
    const std::string_view m = e.what();
    if (m.empty() || m.find_first_of("\n\r") != std::string_view::npos) {
      std::fprintf(stderr, "sbert fuzz: the error message is not one line: \"%s\"\n", e.what());
      std::abort();
    }
  }
}

}  // namespace sbert::fuzz
