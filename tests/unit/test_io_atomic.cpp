// AtomicFile, write_file_atomic and read_file: a failed or abandoned write never damages the
// file at the target path and never leaves its temporary behind.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "sbert/error.h"

namespace fs = std::filesystem;
using namespace sbert;
using Catch::Contains;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() /
           ("sbert_test_io_atomic_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

TEST_CASE("atomic: write_file_atomic creates and replaces files - read_file reads them back",
          "[io]") {
  TempDir dir;
  const fs::path p = dir / "f.bin";
  std::string content = "hello";
  content += '\0';
  content += "world\n";
  write_file_atomic(p, content);
  CHECK(read_file(p) == content);
  write_file_atomic(p, "");
  CHECK(read_file(p).empty());
  const std::string big(300000, 'x');  // more than read_file's buffer
  write_file_atomic(p, big);
  CHECK(read_file(p) == big);
  CHECK(dir.entries() == std::vector<std::string>{"f.bin"});
}

TEST_CASE("atomic: an AtomicFile destroyed without commit leaves the old file and no temp",
          "[io]") {
  TempDir dir;
  const fs::path p = dir / "model.safetensors";
  write_file_atomic(p, "old contents");
  {
    AtomicFile f(p);
    f.write("new contents, half written");
    CHECK(dir.entries().size() == 2);  // the temporary sits beside the target
  }
  CHECK(read_file(p) == "old contents");
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  // Nothing at the path before: still nothing after.
  { AtomicFile f(dir / "fresh.bin"); }
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("atomic: an exception thrown mid-write leaves the old file intact and no temp", "[io]") {
  TempDir dir;
  const fs::path p = dir / "out.npy";
  write_file_atomic(p, "old contents");
  auto write_then_fail = [&] {
    AtomicFile f(p);
    const std::string chunk(1 << 20, 'n');
    f.write(chunk);  // a partial write, large enough to reach the disk
    f.write(chunk.data(), 100);
    throw std::runtime_error("disk on fire");
  };
  REQUIRE_THROWS_WITH(write_then_fail(), "disk on fire");
  CHECK(read_file(p) == "old contents");
  CHECK(dir.entries() == std::vector<std::string>{"out.npy"});
}

TEST_CASE("atomic: commit replaces the file - a second commit or late write is an error", "[io]") {
  TempDir dir;
  const fs::path p = dir / "a.txt";
  write_file_atomic(p, "old");
  AtomicFile f(p);
  f.write("new ");
  f.write(std::string_view("text"));
  f.write(nullptr, 0);
  CHECK(read_file(p) == "old");  // not visible before commit
  f.commit();
  CHECK(read_file(p) == "new text");
  REQUIRE_THROWS_WITH(f.commit(), Contains(p.string()) && Contains("commit called twice"));
  REQUIRE_THROWS_WITH(f.write("x"), Contains(p.string()) && Contains("write after commit"));
  CHECK(dir.entries() == std::vector<std::string>{"a.txt"});
}

TEST_CASE("atomic: two writers to one path get separate temps - the last commit wins", "[io]") {
  TempDir dir;
  const fs::path p = dir / "x";
  AtomicFile a(p);
  AtomicFile b(p);
  a.write("from a");
  b.write("from b");
  CHECK(dir.entries().size() == 2);
  a.commit();
  b.commit();
  CHECK(read_file(p) == "from b");
  CHECK(dir.entries() == std::vector<std::string>{"x"});
}

TEST_CASE("atomic: failures name the path and the reason", "[io]") {
  TempDir dir;
  SECTION("no such directory") {
    const fs::path p = dir / "missing" / "f.bin";
    REQUIRE_THROWS_WITH(AtomicFile(p), Contains("[io] " + p.string()) &&
                                           Contains("cannot create temporary file") &&
                                           Contains("No such file or directory"));
    REQUIRE_THROWS_WITH(write_file_atomic(p, "x"), Contains(p.string()));
  }
  SECTION("the target is a folder: refused before anything is written") {
    const fs::path p = dir / "target";
    fs::create_directories(p / "inside");
    REQUIRE_THROWS_WITH(AtomicFile(p),
                        Contains("[io] " + p.string()) && Contains("is a folder, not a file"));
    CHECK(fs::is_directory(p / "inside"));
  }
  SECTION("rename fails: a folder appeared at the target after the temporary was made") {
    const fs::path sub = dir / "sub";
    fs::create_directories(sub);
    const fs::path p = sub / "f.bin";
    AtomicFile f(p);
    f.write("data");
    // Replace the target by a non-empty folder after construction: the rename cannot succeed.
    fs::create_directories(p / "inside");
    REQUIRE_THROWS_WITH(f.commit(), Contains("[io] " + p.string()) && Contains("cannot rename"));
    REQUIRE_THROWS_WITH(f.write("x"), Contains("after a failed commit"));
    REQUIRE_THROWS_WITH(f.commit(), Contains("after a failed commit"));
    fs::remove_all(p);
  }
  // The failed commit's temporary was removed.
  CHECK(dir.entries().size() <= 1);
  for (const auto& name : dir.entries()) CHECK(name.find(".tmp.") == std::string::npos);
}

TEST_CASE("atomic: read_file errors say which file and why", "[io]") {
  TempDir dir;
  const fs::path p = dir / "nope.json";
  REQUIRE_THROWS_AS(read_file(p), sbert::Error);
  REQUIRE_THROWS_WITH(read_file(p),
                      "[io] " + p.string() + ": cannot open (No such file or directory)");
  REQUIRE_THROWS_WITH(read_file(dir.path),
                      Contains("[io] " + dir.path.string()) && Contains("Is a directory"));
}
