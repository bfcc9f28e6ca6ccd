// .npy writing (format 1.0, what numpy.save writes) and the test-side reader.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/npy.h"
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
           ("sbert_test_io_npy_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
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

// A version 1.0 .npy file as numpy writes it: magic, version, u16 header length, the dict padded
// with spaces and a newline to a multiple of 64 bytes, then the data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string h = dict;
  const size_t unpadded = 8 + len_bytes + h.size() + 1;
  h.append((64 - unpadded % 64) % 64, ' ');
  h += '\n';
  for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("npy: write_npy_f32 writes numpy's format 1.0 byte for byte", "[io]") {
  TempDir dir;
  const fs::path p = dir / "emb.npy";
  const std::vector<float> x = {1.f, 2.f, 3.f, -4.f, 5.5f, 6.f};
  write_npy_f32(p, x.data(), 2, 3);
  const std::string bytes = read_file(p);
  // The exact bytes numpy.save(np.zeros((2, 3), np.float32)) writes before the data.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string header = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict;
  header.append(128 - 1 - header.size(), ' ');
  header += '\n';
  REQUIRE(bytes.size() == 128 + 24);
  CHECK(bytes.substr(0, 128) == header);
  CHECK(bytes.substr(128) == raw(x));
  CHECK(dir.entries() == std::vector<std::string>{"emb.npy"});

  const NpyF32 back = read_npy_f32(p);
  CHECK(back.shape == std::vector<int64_t>{2, 3});
  CHECK(back.data == x);
}

TEST_CASE("npy: header sizes stay multiples of 64 for any shape", "[io]") {
  TempDir dir;
  const std::vector<float> one = {7.f};
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 0}, {0, 384}, {1, 1}, {1000000, 0}, {123456789012, 0}}) {
    INFO(r << " x " << c);
    const fs::path p = dir / "s.npy";
    write_npy_f32(p, r * c != 0 ? one.data() : nullptr, r, c);
    const std::string bytes = read_file(p);
    const size_t hlen = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    CHECK((10 + hlen) % 64 == 0);
    CHECK(bytes[10 + hlen - 1] == '\n');
    CHECK(bytes.size() == 10 + hlen + 4 * static_cast<size_t>(r * c));
    const NpyF32 back = read_npy_f32(p);
    CHECK(back.shape == std::vector<int64_t>{r, c});
    CHECK(back.data.size() == static_cast<size_t>(r * c));
  }
  write_npy_f32(dir / "one.npy", one.data(), 1, 1);
  CHECK(read_npy_f32(dir / "one.npy").data == one);
}

TEST_CASE("npy: reads 1-D arrays and the dict in any key order and quoting", "[io]") {
  TempDir dir;
  const std::vector<float> v = {0.5f, 1.5f, -2.f};
  const fs::path p = dir / "v.npy";
  write_file_atomic(p,
                    npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", raw(v)));
  NpyF32 a = read_npy_f32(p);
  CHECK(a.shape == std::vector<int64_t>{3});
  CHECK(a.data == v);

  write_file_atomic(
      p, npy_bytes("{\"shape\": (1,3), \"fortran_order\": False, \"descr\": \"<f4\"}", raw(v)));
  a = read_npy_f32(p);
  CHECK(a.shape == std::vector<int64_t>{1, 3});
  CHECK(a.data == v);

  // Version 2.0 (4-byte header length), which numpy uses for very long headers.
  write_file_atomic(
      p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", raw(v), 2));
  CHECK(read_npy_f32(p).data == v);
}

TEST_CASE("npy: the reader rejects what it cannot read, naming the file and the problem", "[io]") {
  TempDir dir;
  const fs::path p = dir / "bad.npy";
  const std::string file = p.string();
  const std::vector<float> v(6, 1.f);
  auto with = [&](const std::string& bytes) {
    write_file_atomic(p, bytes);
    return read_npy_f32(p);
  };
  REQUIRE_THROWS_WITH(
      read_npy_f32(dir / "none.npy"),
      Contains((dir / "none.npy").string()) && Contains("cannot open (No such file or directory)"));
  REQUIRE_THROWS_WITH(with(""), Contains("[npy] " + file) && Contains("not an .npy file"));
  REQUIRE_THROWS_WITH(with("PK\x03\x04 this is a zip"), Contains(file) && Contains("not an .npy"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", raw(v), 9)),
      Contains(file) && Contains("unsupported format version 9.0"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", raw(v))),
      Contains(file) && Contains("descr '<f8' is not supported (expected '<f4')"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", raw(v))),
      Contains("descr '>f4'"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", raw(v))),
      Contains(file) && Contains("fortran_order True is not supported"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", raw(v))),
      Contains(file) && Contains("shape has 3 dimensions, expected 1 or 2"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw(v))),
      Contains("shape has 0 dimensions"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", raw(v))),
      Contains(file) && Contains("shape (2, 4) needs 32 data bytes but the file has 24"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", raw(v))),
      Contains(file) && Contains("expected a non-negative integer"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, "
                     "1), }",
                     raw(v))),
      Contains("overflows int64"));
  REQUIRE_THROWS_WITH(
      with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
                     "4), }",
                     raw(v))),
      Contains("is too large"));
  REQUIRE_THROWS_WITH(with(npy_bytes("{'descr': '<f4', 'shape': (6,), }", raw(v))),
                      Contains("lacks 'descr', 'fortran_order' or 'shape'"));
  REQUIRE_THROWS_WITH(
      with(
          npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", raw(v))),
      Contains("unexpected key 'extra'"));
  REQUIRE_THROWS_WITH(with(npy_bytes("{'descr': '<f4', 'fortran_order': maybe}", raw(v))),
                      Contains("expected True or False"));
  std::string truncated =
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", raw(v));
  truncated.resize(40);  // inside the header
  REQUIRE_THROWS_WITH(with(truncated), Contains(file) && Contains("header length 118 exceeds"));
}

TEST_CASE("npy: write_npy_f32 rejects bad shapes and leaves an existing file alone", "[io]") {
  TempDir dir;
  const fs::path p = dir / "out.npy";
  write_file_atomic(p, "old contents");
  const std::vector<float> v(4, 1.f);
  REQUIRE_THROWS_WITH(write_npy_f32(p, v.data(), -1, 4),
                      Contains("[npy] " + p.string()) && Contains("shape (-1, 4) is negative"));
  REQUIRE_THROWS_WITH(write_npy_f32(p, nullptr, 2, 2), Contains("no data for shape (2, 2)"));
  REQUIRE_THROWS_WITH(write_npy_f32(p, v.data(), 1ll << 62, 1ll << 62), Contains("is too large"));
  CHECK(read_file(p) == "old contents");
  CHECK(dir.entries() == std::vector<std::string>{"out.npy"});
  write_npy_f32(p, v.data(), 2, 2);
  CHECK(read_npy_f32(p).data == v);
  CHECK(dir.entries() == std::vector<std::string>{"out.npy"});
}
