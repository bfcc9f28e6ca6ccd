#include "io/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>

#include "core/check.h"
#include "io/atomic_file.h"

static_assert(std::endian::native == std::endian::little, "npy '<f4' assumes a little-endian host");

namespace sbert {

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes + NUL

// A tiny reader for the Python literal numpy writes as the header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictParser {
 public:
  DictParser(std::string_view s, std::string where) : s_(s), where_(std::move(where)) {}

  std::string descr;
  bool have_descr = false;
  bool fortran_order = false;
  bool have_fortran = false;
  std::vector<int64_t> shape;
  bool have_shape = false;

  void parse() {
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = string_lit();
      expect(':');
      skip_ws();
      if (key == "descr") {
        descr = string_lit();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = bool_lit();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple_lit();
        have_shape = true;
      } else {
        fail(where_, "header has unexpected key '", key, "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_ws();
      if (peek() == '}') break;
      bad("',' or '}'");
    }
    expect('}');
    skip_ws();
    SBERT_CHECK(i_ == s_.size(), where_, "header has trailing text after the dict");
    SBERT_CHECK(have_descr && have_fortran && have_shape, where_,
                "header lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  std::string_view s_;
  std::string where_;
  size_t i_ = 0;

  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  [[noreturn]] void bad(const char* what) const {
    fail(where_, "header dict: expected ", what, " at character ", i_, " of '", s_, "'");
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) {
      const char what[] = {'\'', c, '\'', '\0'};
      bad(what);
    }
    ++i_;
  }
  std::string string_lit() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') bad("a quoted string");
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) bad("a closing quote");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool bool_lit() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    bad("True or False");
  }
  std::vector<int64_t> tuple_lit() {
    std::vector<int64_t> out;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("a non-negative integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v)) {
          fail(where_, "header shape dimension overflows int64");
        }
        ++i_;
      }
      out.push_back(v);
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') bad("',' or ')'");
    }
    expect(')');
    return out;
  }
};

std::string tuple_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

void write_npy_f32(const std::filesystem::path& path, const float* data, int64_t rows,
                   int64_t cols) {
  const std::string w = cat("[npy] ", path.string(), ": ");
  SBERT_CHECK(rows >= 0 && cols >= 0, w, "shape (", rows, ", ", cols, ") is negative");
  int64_t numel = 0;
  uint64_t nbytes = 0;
  SBERT_CHECK(!__builtin_mul_overflow(rows, cols, &numel) &&
                  !__builtin_mul_overflow(static_cast<uint64_t>(numel), uint64_t{4}, &nbytes),
              w, "shape (", rows, ", ", cols, ") is too large");
  SBERT_CHECK(numel == 0 || data != nullptr, w, "no data for shape (", rows, ", ", cols, ")");

  std::string dict =
      cat("{'descr': '<f4', 'fortran_order': False, 'shape': (", rows, ", ", cols, "), }");
  // magic (6) + version (2) + header length (2) + dict + padding + '\n' = multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  SBERT_CHECK(dict.size() <= 65535, w, "npy 1.0 header too long");
  const auto hlen = static_cast<uint16_t>(dict.size());

  AtomicFile f(path);
  f.write(kMagic, 6);
  const uint8_t version[2] = {1, 0};
  f.write(version, 2);
  const uint8_t len[2] = {static_cast<uint8_t>(hlen & 0xff), static_cast<uint8_t>(hlen >> 8)};
  f.write(len, 2);
  f.write(dict);
  f.write(data, static_cast<size_t>(nbytes));
  f.commit();
}

NpyF32 read_npy_f32(const std::filesystem::path& path) {
  const std::string w = cat("[npy] ", path.string(), ": ");
  const std::string bytes = read_file(path);
  SBERT_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0, w,
              "not an .npy file (no \\x93NUMPY magic)");
  const auto major = static_cast<uint8_t>(bytes[6]);
  const auto minor = static_cast<uint8_t>(bytes[7]);
  size_t hlen = 0;
  size_t hstart = 0;
  if (major == 1) {
    hlen =
        static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    SBERT_CHECK(bytes.size() >= 12, w, "file is ", bytes.size(), " bytes, too short for a header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) {
      hlen |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    }
    hstart = 12;
  } else {
    fail(w, "unsupported format version ", int{major}, ".", int{minor});
  }
  SBERT_CHECK(hlen <= bytes.size() - hstart, w, "header length ", hlen, " exceeds the file (",
              bytes.size(), " bytes)");
  DictParser p(std::string_view(bytes).substr(hstart, hlen), w);
  p.parse();
  SBERT_CHECK(p.descr == "<f4", w, "descr '", p.descr, "' is not supported (expected '<f4')");
  SBERT_CHECK(!p.fortran_order, w, "fortran_order True is not supported");
  SBERT_CHECK(p.shape.size() == 1 || p.shape.size() == 2, w, "shape has ", p.shape.size(),
              " dimensions, expected 1 or 2");
  int64_t numel = 1;
  for (int64_t d : p.shape) {
    SBERT_CHECK(!__builtin_mul_overflow(numel, d, &numel) && numel <= INT64_MAX / 4, w, "shape ",
                tuple_str(p.shape), " is too large");
  }
  const size_t data_bytes = bytes.size() - hstart - hlen;
  SBERT_CHECK(data_bytes == static_cast<uint64_t>(numel) * 4, w, "shape ", tuple_str(p.shape),
              " needs ", numel * 4, " data bytes but the file has ", data_bytes);
  NpyF32 out;
  out.shape = p.shape;
  out.data.resize(static_cast<size_t>(numel));
  if (numel) std::memcpy(out.data.data(), bytes.data() + hstart + hlen, data_bytes);
  return out;
}

}  // namespace sbert
