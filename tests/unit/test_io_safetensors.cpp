// safetensors reading and writing: round trips, hand-made files, and every kind of bad input.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
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
           ("sbert_test_io_st_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
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

void put(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

// u64 little-endian header length (the header's own length unless told otherwise), header, data.
std::string st_bytes(const std::string& header, const std::string& data = "",
                     std::optional<uint64_t> len = std::nullopt) {
  const uint64_t n = len.value_or(header.size());
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// A file with one F32 tensor described by `entry` (the JSON object for "w") and `data`.
fs::path one_tensor(const TempDir& dir, const std::string& entry, const std::string& data) {
  const fs::path p = dir / "bad.safetensors";
  put(p, st_bytes("{\"w\":" + entry + "}", data));
  return p;
}

}  // namespace

TEST_CASE("safetensors: write then read round-trips names, order, dtypes, shapes and bytes",
          "[io]") {
  TempDir dir;
  const fs::path p = dir / "model.safetensors";
  const std::vector<float> w = {1.f, -2.f, 3.5f, 4.f, 5.f, 6.25f};
  const std::vector<uint16_t> h = {f32_to_f16(1.5f), f32_to_f16(-2.f), f32_to_f16(0.25f)};
  const std::vector<uint16_t> b = {f32_to_bf16(1.5f), f32_to_bf16(-3.f)};
  const std::vector<double> d = {0.5, -0.125};
  const std::vector<int64_t> ids = {7, -9, 1ll << 40};
  const std::vector<int32_t> i32 = {42, -1};
  const std::vector<uint8_t> u8 = {1, 2, 3, 4, 5};
  const float scalar = 9.f;
  // Names deliberately not sorted, and an odd-sized F16 first so the F32 after it is unaligned.
  const std::vector<TensorView> views = {
      {"z.half", DType::F16, {3}, h.data()},     {"encoder.weight", DType::F32, {2, 3}, w.data()},
      {"a.bf16", DType::BF16, {1, 2}, b.data()}, {"m.f64", DType::F64, {2}, d.data()},
      {"ids", DType::I64, {3}, ids.data()},      {"i32", DType::I32, {2}, i32.data()},
      {"bytes", DType::U8, {5}, u8.data()},      {"empty", DType::F32, {0, 4}, nullptr},
      {"scalar", DType::F32, {}, &scalar},
  };
  write_safetensors(p, views, {{"format", "pt"}, {"note", "quote \" and \xc3\xbc"}});
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  auto f = SafetensorsFile::open(p);
  CHECK(f.path() == p);
  std::vector<std::string> want_names;
  for (const auto& v : views) want_names.push_back(v.name);
  CHECK(f.names() == want_names);
  CHECK(f.metadata() ==
        std::map<std::string, std::string>{{"format", "pt"}, {"note", "quote \" and \xc3\xbc"}});
  uint64_t offset = 0;
  for (const auto& v : views) {
    INFO(v.name);
    REQUIRE(f.contains(v.name));
    const TensorInfo& t = f.info(v.name);
    CHECK(t.name == v.name);
    CHECK(t.dtype == v.dtype);
    CHECK(t.dtype_name == dtype_name(v.dtype));
    CHECK(t.supported);
    CHECK(t.shape == v.shape);
    const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(v.dtype);
    CHECK(t.begin == offset);  // contiguous, in the given order
    CHECK(t.end == offset + nbytes);
    offset = t.end;
    auto bytes = f.bytes(v.name);
    REQUIRE(bytes.size() == nbytes);
    if (nbytes) CHECK(std::memcmp(bytes.data(), v.data, nbytes) == 0);
  }
  CHECK_FALSE(f.contains("missing"));

  CHECK(f.read_f32("encoder.weight") == w);
  CHECK(f.read_f32("encoder.weight", {2, 3}) == w);
  CHECK(f.read_f32("z.half") == std::vector<float>{1.5f, -2.f, 0.25f});
  CHECK(f.read_f32("a.bf16") == std::vector<float>{1.5f, -3.f});
  CHECK(f.read_f32("m.f64") == std::vector<float>{0.5f, -0.125f});
  CHECK(f.read_f32("empty", {0, 4}).empty());
  CHECK(f.read_f32("scalar") == std::vector<float>{9.f});
  CHECK(f.read_i64("ids") == ids);
  CHECK(f.read_i64("i32") == std::vector<int64_t>{42, -1});
  CHECK(f.read_i32("i32") == i32);
  std::vector<float> into(6, 0.f);
  f.read_f32_into("encoder.weight", into.data(), {2, 3});
  CHECK(into == w);

  // The on-disk layout: header length a multiple of 8, padded with spaces, data right after.
  const std::string file = read_file(p);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(file.size() == 8 + n + offset);
  CHECK(file.substr(8, 16) == "{\"__metadata__\":");
  const std::string header = file.substr(8, n);
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));
}

TEST_CASE("safetensors: rewriting a file gives identical bytes - no metadata means no key", "[io]") {
  TempDir dir;
  const std::vector<float> w = {1, 2, 3, 4};
  write_safetensors(dir / "a.safetensors", {{"w", DType::F32, {4}, w.data()}});
  auto f = SafetensorsFile::open(dir / "a.safetensors");
  CHECK(f.metadata().empty());
  std::vector<TensorView> again;
  for (const auto& name : f.names()) {
    const TensorInfo& t = f.info(name);
    again.push_back({name, t.dtype, t.shape, f.bytes(name).data()});
  }
  write_safetensors(dir / "b.safetensors", again);
  const std::string a = read_file(dir / "a.safetensors");
  CHECK(a == read_file(dir / "b.safetensors"));
  CHECK(a.find("__metadata__") == std::string::npos);
}

TEST_CASE("safetensors: a hand-made file with an unpadded header and unaligned data reads",
          "[io]") {
  TempDir dir;
  // Header of odd length, so the data block starts at an odd offset in the mapping.
  const std::vector<float> x = {0.5f, -1.f, 2.f};
  const std::vector<uint16_t> y = {f32_to_bf16(7.f)};
  const std::string header =
      R"({"y":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},)"
      R"("x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"__metadata__":{"k":"v"}} )";
  REQUIRE(header.size() % 2 == 1);
  put(dir / "h.safetensors", st_bytes(header, raw(x) + raw(y)));
  auto f = SafetensorsFile::open(dir / "h.safetensors");
  CHECK(f.names() == std::vector<std::string>{"y", "x"});  // header order, not offset order
  CHECK(f.read_f32("x") == x);
  CHECK(f.read_f32("y") == std::vector<float>{7.f});
  CHECK(f.metadata().at("k") == "v");
}

TEST_CASE("safetensors: dtypes safetensors knows but libsbert does not read fail only on read",
          "[io]") {
  TempDir dir;
  const std::string header = R"({"f8":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]},)"
                             R"("flags":{"dtype":"BOOL","shape":[2],"data_offsets":[3,5]},)"
                             R"("w":{"dtype":"F32","shape":[1],"data_offsets":[5,9]}})";
  const std::vector<float> w = {3.f};
  put(dir / "q.safetensors", st_bytes(header, std::string(5, '\1') + raw(w)));
  auto f = SafetensorsFile::open(dir / "q.safetensors");
  CHECK(f.names() == std::vector<std::string>{"f8", "flags", "w"});
  CHECK_FALSE(f.info("f8").supported);
  CHECK(f.info("f8").dtype_name == "F8_E4M3");
  CHECK(f.read_f32("w") == w);
  const std::string file = (dir / "q.safetensors").string();
  REQUIRE_THROWS_WITH(f.read_f32("f8"), Contains(file) && Contains("tensor 'f8'") &&
                                            Contains("dtype F8_E4M3") && Contains("does not read"));
  REQUIRE_THROWS_WITH(f.bytes("flags"), Contains("tensor 'flags'") && Contains("BOOL"));
  REQUIRE_THROWS_WITH(f.read_i64("f8"), Contains("F8_E4M3"));

  // Their sizes are still checked.
  const fs::path bad = one_tensor(dir, R"({"dtype":"F8_E5M2","shape":[4],"data_offsets":[0,3]})",
                                  std::string(3, '\0'));
  REQUIRE_THROWS_WITH(SafetensorsFile::open(bad),
                      Contains("tensor 'w'") && Contains("needs 4 bytes") && Contains("hold 3"));
}

TEST_CASE("safetensors: SafetensorsFile is move-only and stays usable after a move", "[io]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<SafetensorsFile>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<SafetensorsFile>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<SafetensorsFile>);
  TempDir dir;
  const std::vector<float> a = {1, 2}, b = {3};
  write_safetensors(dir / "a.safetensors", {{"a", DType::F32, {2}, a.data()}});
  write_safetensors(dir / "b.safetensors", {{"b", DType::F32, {1}, b.data()}});
  auto f = SafetensorsFile::open(dir / "a.safetensors");
  SafetensorsFile g(std::move(f));
  CHECK(g.read_f32("a") == a);
  auto h = SafetensorsFile::open(dir / "b.safetensors");
  h = std::move(g);  // unmaps b, takes a
  CHECK(h.read_f32("a") == a);
  CHECK(h.path() == dir / "a.safetensors");
}

TEST_CASE("safetensors: reads check names, dtypes and the expected shape", "[io]") {
  TempDir dir;
  const fs::path p = dir / "m.safetensors";
  const std::vector<float> w(6, 1.f);
  const std::vector<int64_t> big = {1, 1ll << 40};
  write_safetensors(p, {{"w", DType::F32, {2, 3}, w.data()}, {"big", DType::I64, {2}, big.data()}});
  auto f = SafetensorsFile::open(p);
  const std::string file = p.string();

  REQUIRE_THROWS_WITH(f.read_f32("w", {3, 2}),
                      Contains("[safetensors] " + file) &&
                          Contains("tensor 'w' has shape [2, 3], expected [3, 2]"));
  std::vector<float> out(6);
  REQUIRE_THROWS_WITH(f.read_f32_into("w", out.data(), {6}),
                      Contains(file) && Contains("tensor 'w' has shape [2, 3], expected [6]"));
  REQUIRE_THROWS_WITH(f.info("nope"), Contains(file) && Contains("no tensor named 'nope'"));
  REQUIRE_THROWS_WITH(f.read_f32("nope"), Contains("no tensor named 'nope'"));
  REQUIRE_THROWS_WITH(f.read_f32("big"), Contains(file) && Contains("tensor 'big' has dtype I64") &&
                                             Contains("floating-point"));
  REQUIRE_THROWS_WITH(f.read_i64("w"), Contains("tensor 'w' has dtype F32") && Contains("integer"));
  REQUIRE_THROWS_WITH(f.read_i32("big"), Contains(file) && Contains("tensor 'big' element 1") &&
                                             Contains("1099511627776") && Contains("int32"));
}

TEST_CASE("safetensors: missing, empty, short and truncated files are rejected", "[io]") {
  TempDir dir;
  SECTION("missing file") {
    const fs::path p = dir / "none.safetensors";
    REQUIRE_THROWS_AS(SafetensorsFile::open(p), sbert::Error);
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains("[safetensors] " + p.string()) &&
                            Contains("cannot open (No such file or directory)"));
  }
  SECTION("a directory") {
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir.path),
                        Contains(dir.path.string()) && Contains("not a regular file"));
  }
  SECTION("empty file") {
    put(dir / "e.safetensors", "");
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "e.safetensors"),
                        Contains((dir / "e.safetensors").string()) &&
                            Contains("file is 0 bytes, too short for the 8-byte header length"));
  }
  SECTION("shorter than the length field") {
    put(dir / "s.safetensors", "abcde");
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "s.safetensors"), Contains("file is 5 bytes"));
  }
  SECTION("header length says more than the file has") {
    const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    put(dir / "t.safetensors", st_bytes(header, "abcd", 1000));
    const uint64_t rest = header.size() + 4;
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "t.safetensors"),
                        Contains((dir / "t.safetensors").string()) &&
                            Contains("header length 1000 exceeds the " + std::to_string(rest) +
                                     " bytes that follow it"));
  }
  SECTION("a file cut off inside its data block") {
    const std::vector<float> w(16, 2.f);
    write_safetensors(dir / "c.safetensors", {{"w", DType::F32, {16}, w.data()}});
    std::string bytes = read_file(dir / "c.safetensors");
    bytes.resize(bytes.size() - 10);
    put(dir / "c.safetensors", bytes);
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "c.safetensors"),
                        Contains("tensor 'w'") && Contains("data_offsets [0, 64]") &&
                            Contains("reach past the end of the data block (54 bytes"));
  }
  SECTION("header length over 100 MB") {
    // A sparse file, so that the length fits in the file but exceeds the limit.
    const fs::path p = dir / "huge.safetensors";
    const uint64_t n = 100'000'001;
    put(p, st_bytes("{}", "", n));
    fs::resize_file(p, 8 + n);
    REQUIRE_THROWS_WITH(
        SafetensorsFile::open(p),
        Contains(p.string()) && Contains("header length 100000001 exceeds the limit"));
  }
}

TEST_CASE("safetensors: headers that are not a JSON object of tensor entries are rejected",
          "[io]") {
  TempDir dir;
  const fs::path p = dir / "h.safetensors";
  const std::string file = p.string();
  auto open_with = [&](const std::string& header, const std::string& data = "") {
    put(p, st_bytes(header, data));
    return SafetensorsFile::open(p);
  };
  REQUIRE_THROWS_WITH(open_with("{\"w\": not json at all"),
                      Contains(file) && Contains("is not valid JSON"));
  REQUIRE_THROWS_WITH(open_with("\x01\x02garbage\xff"),
                      Contains(file) && Contains("not valid JSON"));
  REQUIRE_THROWS_WITH(open_with("[1, 2, 3]"),
                      Contains(file) && Contains("header is an array, expected a JSON object"));
  REQUIRE_THROWS_WITH(
      open_with("{\"w\": 5}"),
      Contains("tensor 'w'") && Contains("entry is an integer, expected an object"));
  REQUIRE_THROWS_WITH(
      open_with(R"({"__metadata__":{"k":1}})"),
      Contains(file) && Contains("__metadata__ 'k' is an integer, expected a string"));
  REQUIRE_THROWS_WITH(open_with(R"({"__metadata__":[1]})"),
                      Contains("__metadata__ is an array, expected an object"));
  REQUIRE_THROWS_WITH(open_with(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                std::string(8, '\0')),
                      Contains(file) && Contains("tensor 'w' appears twice"));
  // An empty header object is a valid file with no tensors.
  auto f = open_with("{}  ");
  CHECK(f.names().empty());
}

TEST_CASE("safetensors: tensor entries with missing or mistyped fields are rejected", "[io]") {
  TempDir dir;
  const std::string file = (dir / "bad.safetensors").string();
  const std::string d4(4, '\0');
  auto open = [&](const std::string& entry, const std::string& data) {
    return SafetensorsFile::open(one_tensor(dir, entry, data));
  };
  REQUIRE_THROWS_WITH(open(R"({"shape":[1],"data_offsets":[0,4]})", d4),
                      Contains(file) && Contains("tensor 'w': missing 'dtype'"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","data_offsets":[0,4]})", d4),
                      Contains("tensor 'w': missing 'shape'"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":[1]})", d4),
                      Contains("tensor 'w': missing 'data_offsets'"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})", d4),
                      Contains("'dtype' is an integer, expected a string"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})", d4),
                      Contains("'shape' is a string, expected an array"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", d4),
                      Contains("has dimension 1.5, expected a non-negative integer"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", d4),
                      Contains("'data_offsets' [0,4,8] has 3 entries, expected [begin, end]"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", d4),
                      Contains("'data_offsets' [-4,0] are not non-negative integers"));
  REQUIRE_THROWS_WITH(open(R"({"dtype":"F32","shape":[0],"data_offsets":[4,0]})", d4),
                      Contains("data_offsets [4, 0] end before they begin"));
}

TEST_CASE("safetensors: wrong dtype strings are rejected naming the tensor and dtype", "[io]") {
  TempDir dir;
  const std::string file = (dir / "bad.safetensors").string();
  for (const std::string dt : {"F33", "f32", "float32", ""}) {
    INFO(dt);
    const fs::path p = one_tensor(
        dir, R"({"dtype":")" + dt + R"(","shape":[1],"data_offsets":[0,4]})", std::string(4, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains(file) && Contains("tensor 'w': unknown dtype '" + dt + "'"));
  }
}

TEST_CASE("safetensors: headers that lie about sizes and offsets are rejected", "[io]") {
  TempDir dir;
  const std::string file = (dir / "bad.safetensors").string();
  SECTION("data_offsets beyond the file") {
    const fs::path p = one_tensor(dir, R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})",
                                  std::string(8, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains(file) && Contains("tensor 'w'") &&
                            Contains("data_offsets [0, 16] reach past the end of the data block "
                                     "(8 bytes"));
  }
  SECTION("offsets near 2^64 do not wrap around") {
    const fs::path p = one_tensor(
        dir,
        R"({"dtype":"U8","shape":[4],"data_offsets":[18446744073709551612,18446744073709551615]})",
        std::string(8, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p), Contains("reach past the end of the data block"));
  }
  SECTION("byte size not matching shape x dtype") {
    const fs::path p = one_tensor(dir, R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})",
                                  std::string(24, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains(file) && Contains("tensor 'w'") &&
                            Contains("shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] "
                                     "hold 20 bytes"));
  }
  SECTION("a BF16 tensor described with F32 sizes") {
    const fs::path p = one_tensor(dir, R"({"dtype":"BF16","shape":[4],"data_offsets":[0,16]})",
                                  std::string(16, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains("shape [4] of BF16 needs 8 bytes") && Contains("hold 16 bytes"));
  }
  SECTION("negative dimension") {
    const fs::path p = one_tensor(dir, R"({"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]})",
                                  std::string(16, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains(file) && Contains("tensor 'w'") &&
                            Contains("has dimension -1, expected a non-negative integer"));
  }
  SECTION("element count overflows 64 bits") {
    const fs::path p = one_tensor(
        dir, R"({"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]})",
        std::string(16, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains("tensor 'w'") &&
                            Contains("shape [4294967296, 4294967296, 4] has more elements than "
                                     "fit in 64 bits"));
  }
  SECTION("element count fits but the byte size overflows") {
    // 2^62 elements of 4 bytes: 2^64 bytes.
    const fs::path p =
        one_tensor(dir, R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]})",
                   std::string(16, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p),
                        Contains("tensor 'w'") && Contains("does not fit in 64 bits"));
  }
  SECTION("a dimension beyond int64") {
    const fs::path p =
        one_tensor(dir, R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,16]})",
                   std::string(16, '\0'));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(p), Contains("has dimension 18446744073709551615"));
  }
  SECTION("overlapping tensors") {
    const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                               R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
    put(dir / "bad.safetensors", st_bytes(header, std::string(24, '\0')));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "bad.safetensors"),
                        Contains(file) && Contains("tensors 'a' [0, 16) and 'b' [8, 24) overlap"));
  }
  SECTION("two tensors on the same bytes, listed in reverse offset order") {
    const std::string header = R"({"late":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                               R"("x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                               R"("y":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}})";
    put(dir / "bad.safetensors", st_bytes(header, std::string(16, '\0')));
    REQUIRE_THROWS_WITH(SafetensorsFile::open(dir / "bad.safetensors"), Contains("overlap"));
  }
  SECTION("empty tensors may sit anywhere in the data block") {
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
    put(dir / "ok.safetensors", st_bytes(header, std::string(8, '\0')));
    auto f = SafetensorsFile::open(dir / "ok.safetensors");
    CHECK(f.read_f32("e").empty());
  }
}

TEST_CASE("safetensors: writer rejects bad tensors and never leaves partial files", "[io]") {
  TempDir dir;
  const fs::path p = dir / "out.safetensors";
  const std::string file = p.string();
  const std::vector<float> w = {1, 2, 3, 4};
  write_file_atomic(p, "old contents");

  REQUIRE_THROWS_WITH(
      write_safetensors(p, {{"w", DType::F32, {4}, w.data()}, {"w", DType::F32, {4}, w.data()}}),
      Contains(file) && Contains("tensor 'w' given twice"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"w", DType::F32, {-1, 4}, w.data()}}),
                      Contains(file) && Contains("tensor 'w' has shape [-1, 4]"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"w", DType::F32, {4}, nullptr}}),
                      Contains("tensor 'w' has no data"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"__metadata__", DType::F32, {4}, w.data()}}),
                      Contains("'__metadata__' cannot name a tensor"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"", DType::F32, {4}, w.data()}}),
                      Contains("empty name"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"bad\xff", DType::F32, {4}, w.data()}}),
                      Contains("not valid UTF-8"));
  REQUIRE_THROWS_WITH(write_safetensors(p, {{"w", DType::F32, {1ll << 62, 1ll << 62}, w.data()}}),
                      Contains("tensor 'w' has shape"));
  CHECK(read_file(p) == "old contents");
  CHECK(dir.entries() == std::vector<std::string>{"out.safetensors"});

  REQUIRE_THROWS_WITH(write_safetensors(dir / "no" / "such" / "dir.safetensors",
                                        {{"w", DType::F32, {4}, w.data()}}),
                      Contains((dir / "no" / "such" / "dir.safetensors").string()) &&
                          Contains("cannot create temporary file"));

  write_safetensors(p, {{"w", DType::F32, {4}, w.data()}});
  CHECK(SafetensorsFile::open(p).read_f32("w", {4}) == w);
  CHECK(dir.entries() == std::vector<std::string>{"out.safetensors"});
}

TEST_CASE("safetensors: corrupted and truncated files throw sbert::Error and nothing else",
          "[io]") {
  TempDir dir;
  const fs::path good = dir / "good.safetensors";
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  const std::vector<uint16_t> h = {1, 2, 3};
  const std::vector<int64_t> ids = {1, 2};
  write_safetensors(good,
                    {{"a", DType::F16, {3}, h.data()},
                     {"w", DType::F32, {2, 3}, w.data()},
                     {"ids", DType::I64, {2}, ids.data()}},
                    {{"format", "pt"}});
  const std::string bytes = read_file(good);
  const fs::path p = dir / "mutant.safetensors";
  // Opens the file and reads everything it lists; a mutant either fails with sbert::Error or is
  // a valid file (e.g. a changed digit in the data block).
  auto exercise = [&](const std::string& content) {
    // Not write_file_atomic, nor truncating the old file in place: both make the file system
    // flush to disk, thousands of times.
    fs::remove(p);
    std::ofstream(p, std::ios::binary)
        .write(content.data(), static_cast<std::streamsize>(content.size()));
    try {
      auto f = SafetensorsFile::open(p);
      for (const auto& name : f.names()) {
        const TensorInfo& t = f.info(name);
        if (!t.supported) continue;
        if (t.dtype == DType::I64 || t.dtype == DType::I32) {
          (void)f.read_i64(name);
        } else if (t.dtype != DType::U8) {
          (void)f.read_f32(name);
        }
      }
      return true;
    } catch (const sbert::Error&) {
      return false;
    }
  };
  CHECK(exercise(bytes));
  int failures = 0;
  for (size_t len = 0; len < bytes.size(); ++len) {
    if (!exercise(bytes.substr(0, len))) ++failures;
  }
  CHECK(failures == static_cast<int>(bytes.size()));  // every truncation is caught
  uint64_t state = 0x9e3779b97f4a7c15ull;             // fixed-seed xorshift
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  static constexpr char kAlphabet[] = "0123456789[]{}\",:-. eEFIU\x00\xff";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string m = bytes;
    const int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      // Mostly inside the length field and the header, where the structure is.
      const size_t at =
          next() % 4 == 0 ? next() % m.size() : next() % std::min<size_t>(m.size(), 140);
      m[at] = alphabet[next() % alphabet.size()];
    }
    try {
      exercise(m);
    } catch (const std::exception& e) {
      FAIL_CHECK("mutant " << i << " threw a non-sbert exception: " << e.what());
    }
  }
}
