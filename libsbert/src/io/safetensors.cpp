#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <unordered_map>

#include "core/check.h"
#include "core/json.h"
#include "core/json_read.h"
#include "core/json_write.h"
#include "io/atomic_file.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts are not supported");

namespace sbert {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // as the Rust crate: 100 MB

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Element count of a shape, or false on a negative dimension or an overflow of int64.
bool checked_numel(const std::vector<int64_t>& shape, int64_t* out) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return false;
  }
  *out = n;
  return true;
}

// Element width in bits of a dtype safetensors defines; 0 for a name it does not define.
// `supported` says whether it is one of libsbert's DTypes.
int dtype_bits(const std::string& name, DType* dt, bool* supported) {
  if (parse_dtype(name, dt)) {
    *supported = true;
    return static_cast<int>(dtype_size(*dt) * 8);
  }
  *supported = false;
  struct Known {
    const char* name;
    int bits;
  };
  static constexpr Known others[] = {
      {"BOOL", 8},    {"I16", 16},    {"U16", 16},    {"U32", 32},        {"U64", 64},
      {"C64", 64},    {"F8_E4M3", 8}, {"F8_E5M2", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
      {"F8_E8M0", 8}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"F4", 4},
  };
  for (const Known& k : others) {
    if (name == k.name) return k.bits;
  }
  return 0;
}

// A JSON number that must be a non-negative integer; false otherwise (negative, fractional,
// a string, ...).
bool get_u64(simdjson::dom::element e, uint64_t* out) {
  if (e.is_uint64()) return e.get_uint64().get(*out) == simdjson::SUCCESS;
  return false;
}

std::string json_text(simdjson::dom::element e) {
  std::string s = simdjson::minify(e);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct SafetensorsFile::Impl {
  std::filesystem::path path;
  void* map = nullptr;
  size_t map_size = 0;
  const uint8_t* data = nullptr;  // start of the data block
  uint64_t data_size = 0;
  std::vector<TensorInfo> tensors;  // file (header key) order
  std::unordered_map<std::string, size_t> index;
  std::map<std::string, std::string> metadata;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (map != nullptr) ::munmap(map, map_size);
  }

  std::string where() const { return cat("[safetensors] ", path.string(), ": "); }

  const TensorInfo& get(const std::string& name) const {
    auto it = index.find(name);
    if (it == index.end()) {
      fail(where(), "no tensor named '", name, "' (the file has ", tensors.size(), " tensors)");
    }
    return tensors[it->second];
  }

  const TensorInfo& get_supported(const std::string& name) const {
    const TensorInfo& t = get(name);
    SBERT_CHECK(t.supported, where(), "tensor '", name, "' has dtype ", t.dtype_name,
                ", which libsbert does not read");
    return t;
  }

  void check_shape(const TensorInfo& t, const std::vector<int64_t>& expected) const {
    if (expected.empty()) return;
    SBERT_CHECK(t.shape == expected, where(), "tensor '", t.name, "' has shape ",
                shape_str(t.shape), ", expected ", shape_str(expected));
  }

  void parse_header(const char* json, size_t n);
  void parse_tensor(std::string_view key, simdjson::dom::element value);
};

void SafetensorsFile::Impl::parse_tensor(std::string_view key, simdjson::dom::element value) {
  TensorInfo t;
  t.name = std::string(key);
  const std::string w = cat(where(), "tensor '", t.name, "': ");
  SBERT_CHECK(index.find(t.name) == index.end(), where(), "tensor '", t.name,
              "' appears twice in the header");
  simdjson::dom::object obj;
  SBERT_CHECK(value.get_object().get(obj) == simdjson::SUCCESS, w, "entry is ",
              json_type_name(value), ", expected an object");

  // dtype
  simdjson::dom::element e;
  SBERT_CHECK(obj["dtype"].get(e) == simdjson::SUCCESS, w, "missing 'dtype'");
  std::string_view dts;
  SBERT_CHECK(e.get_string().get(dts) == simdjson::SUCCESS, w, "'dtype' is ", json_type_name(e),
              ", expected a string");
  t.dtype_name = std::string(dts);
  const int bits = dtype_bits(t.dtype_name, &t.dtype, &t.supported);
  SBERT_CHECK(bits > 0, w, "unknown dtype '", t.dtype_name, "'");
  if (!t.supported) t.dtype = DType::U8;  // meaningless; reads check `supported`

  // shape
  SBERT_CHECK(obj["shape"].get(e) == simdjson::SUCCESS, w, "missing 'shape'");
  simdjson::dom::array arr;
  SBERT_CHECK(e.get_array().get(arr) == simdjson::SUCCESS, w, "'shape' is ", json_type_name(e),
              ", expected an array");
  for (simdjson::dom::element d : arr) {
    uint64_t v = 0;
    SBERT_CHECK(get_u64(d, &v) && v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                w, "shape ", json_text(e), " has dimension ", json_text(d),
                ", expected a non-negative integer");
    t.shape.push_back(static_cast<int64_t>(v));
  }
  int64_t numel = 0;
  SBERT_CHECK(checked_numel(t.shape, &numel), w, "shape ", shape_str(t.shape),
              " has more elements than fit in 64 bits");
  uint64_t nbits = 0;
  SBERT_CHECK(
      !__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(bits), &nbits), w,
      "shape ", shape_str(t.shape), " of ", t.dtype_name,
      " has a byte size that does not fit in 64 bits");
  SBERT_CHECK(nbits % 8 == 0, w, "shape ", shape_str(t.shape), " of ", t.dtype_name, " is ", nbits,
              " bits, not a whole number of bytes");
  const uint64_t nbytes = nbits / 8;

  // data_offsets
  SBERT_CHECK(obj["data_offsets"].get(e) == simdjson::SUCCESS, w, "missing 'data_offsets'");
  SBERT_CHECK(e.get_array().get(arr) == simdjson::SUCCESS, w, "'data_offsets' is ",
              json_type_name(e), ", expected an array [begin, end]");
  SBERT_CHECK(arr.size() == 2, w, "'data_offsets' ", json_text(e), " has ", arr.size(),
              " entries, expected [begin, end]");
  SBERT_CHECK(
      get_u64(arr.at(0).value_unsafe(), &t.begin) && get_u64(arr.at(1).value_unsafe(), &t.end), w,
      "'data_offsets' ", json_text(e), " are not non-negative integers");
  SBERT_CHECK(t.begin <= t.end, w, "data_offsets [", t.begin, ", ", t.end,
              "] end before they begin");
  SBERT_CHECK(t.end <= data_size, w, "data_offsets [", t.begin, ", ", t.end,
              "] reach past the end of the data block (", data_size, " bytes; file is ", map_size,
              " bytes)");
  SBERT_CHECK(t.end - t.begin == nbytes, w, "shape ", shape_str(t.shape), " of ", t.dtype_name,
              " needs ", nbytes, " bytes but data_offsets [", t.begin, ", ", t.end, "] hold ",
              t.end - t.begin, " bytes");

  index.emplace(t.name, tensors.size());
  tensors.push_back(std::move(t));
}

void SafetensorsFile::Impl::parse_header(const char* json, size_t n) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json, n);
  simdjson::dom::element root;
  const auto err = parser.parse(padded).get(root);
  SBERT_CHECK(err == simdjson::SUCCESS, where(), "header (", n,
              " bytes at offset 8) is not valid JSON (", simdjson::error_message(err), ")");
  simdjson::dom::object obj;
  SBERT_CHECK(root.get_object().get(obj) == simdjson::SUCCESS, where(), "header is ",
              json_type_name(root), ", expected a JSON object");

  for (auto field : obj) {
    if (field.key == "__metadata__") {
      if (field.value.is_null()) continue;
      simdjson::dom::object md;
      SBERT_CHECK(field.value.get_object().get(md) == simdjson::SUCCESS, where(),
                  "__metadata__ is ", json_type_name(field.value), ", expected an object");
      for (auto kv : md) {
        std::string_view v;
        SBERT_CHECK(kv.value.get_string().get(v) == simdjson::SUCCESS, where(), "__metadata__ '",
                    kv.key, "' is ", json_type_name(kv.value), ", expected a string");
        metadata[std::string(kv.key)] = std::string(v);
      }
      continue;
    }
    parse_tensor(field.key, field.value);
  }

  // No two tensors may share bytes (empty tensors occupy none).
  std::vector<const TensorInfo*> by_begin;
  for (const TensorInfo& t : tensors) {
    if (t.end > t.begin) by_begin.push_back(&t);
  }
  std::sort(by_begin.begin(), by_begin.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const TensorInfo& a = *by_begin[i - 1];
    const TensorInfo& b = *by_begin[i];
    SBERT_CHECK(b.begin >= a.end, where(), "tensors '", a.name, "' [", a.begin, ", ", a.end,
                ") and '", b.name, "' [", b.begin, ", ", b.end, ") overlap");
  }
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const std::string w = impl->where();

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    fail(w, "cannot open (", std::generic_category().message(e), ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(w, "cannot stat (", std::generic_category().message(e), ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(w, "not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(w, "file is ", size, " bytes, too short for the 8-byte header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  SBERT_CHECK(map != MAP_FAILED, w, "mmap of ", size, " bytes failed (",
              std::generic_category().message(map_errno), ")");
  impl->map = map;
  impl->map_size = size;
  const auto* base = static_cast<const uint8_t*>(map);

  uint64_t n = 0;
  std::memcpy(&n, base, 8);
  SBERT_CHECK(n <= size - 8, w, "header length ", n, " exceeds the ", size - 8,
              " bytes that follow it (file is ", size, " bytes; truncated or not safetensors)");
  SBERT_CHECK(n <= kMaxHeaderBytes, w, "header length ", n, " exceeds the limit of ",
              kMaxHeaderBytes, " bytes");
  SBERT_CHECK(n >= 2, w, "header length ", n, " is too short for a JSON object");
  impl->data = base + 8 + n;
  impl->data_size = size - 8 - n;
  impl->parse_header(reinterpret_cast<const char*>(base + 8), static_cast<size_t>(n));
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const std::filesystem::path& SafetensorsFile::path() const { return impl_->path; }

bool SafetensorsFile::contains(const std::string& name) const {
  return impl_->index.count(name) != 0;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const { return impl_->get(name); }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const TensorInfo& t : impl_->tensors) out.push_back(t.name);
  return out;
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

std::span<const uint8_t> SafetensorsFile::bytes(const std::string& name) const {
  const TensorInfo& t = impl_->get_supported(name);
  return {impl_->data + t.begin, static_cast<size_t>(t.end - t.begin)};
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = impl_->get_supported(name);
  impl_->check_shape(t, expected_shape);
  std::vector<float> out(static_cast<size_t>(t.numel()));
  read_f32_into(name, out.data(), {});
  return out;
}

void SafetensorsFile::read_f32_into(const std::string& name, float* out,
                                    const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = impl_->get_supported(name);
  impl_->check_shape(t, expected_shape);
  const size_t n = static_cast<size_t>(t.numel());
  if (n == 0) return;
  SBERT_CHECK(out != nullptr, impl_->where(), "tensor '", name, "': read_f32_into got null");
  // The data block may sit at any byte offset in the mapping: copy, never reinterpret.
  const uint8_t* src = impl_->data + t.begin;
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(out, src, n * 4);
      return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      return;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    case DType::I32:
    case DType::I64:
    case DType::U8:
    case DType::I8:
      break;
  }
  fail(impl_->where(), "tensor '", name, "' has dtype ", t.dtype_name,
       ", expected a floating-point dtype (F32, F16, BF16, F64)");
}

std::vector<int8_t> SafetensorsFile::read_i8(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = impl_->get_supported(name);
  SBERT_CHECK(t.dtype == DType::I8, impl_->where(), "tensor '", name, "' has dtype ", t.dtype_name,
              ", expected I8");
  impl_->check_shape(t, expected_shape);
  std::vector<int8_t> out(static_cast<size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), impl_->data + t.begin, out.size());
  return out;
}

std::vector<int64_t> SafetensorsFile::read_i64(const std::string& name) const {
  const TensorInfo& t = impl_->get_supported(name);
  const size_t n = static_cast<size_t>(t.numel());
  const uint8_t* src = impl_->data + t.begin;
  std::vector<int64_t> out(n);
  if (t.dtype == DType::I64) {
    if (n) std::memcpy(out.data(), src, n * 8);
  } else if (t.dtype == DType::I32) {
    for (size_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, src + 4 * i, 4);
      out[i] = v;
    }
  } else {
    fail(impl_->where(), "tensor '", name, "' has dtype ", t.dtype_name,
         ", expected an integer dtype (I64, I32)");
  }
  return out;
}

std::vector<int32_t> SafetensorsFile::read_i32(const std::string& name) const {
  const TensorInfo& t = impl_->get_supported(name);
  const size_t n = static_cast<size_t>(t.numel());
  const uint8_t* src = impl_->data + t.begin;
  std::vector<int32_t> out(n);
  if (t.dtype == DType::I32) {
    if (n) std::memcpy(out.data(), src, n * 4);
  } else if (t.dtype == DType::I64) {
    for (size_t i = 0; i < n; ++i) {
      int64_t v;
      std::memcpy(&v, src + 8 * i, 8);
      SBERT_CHECK(
          v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
          impl_->where(), "tensor '", name, "' element ", i, " is ", v,
          ", outside the int32 range");
      out[i] = static_cast<int32_t>(v);
    }
  } else {
    fail(impl_->where(), "tensor '", name, "' has dtype ", t.dtype_name,
         ", expected an integer dtype (I32, I64)");
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string w = cat("[safetensors] ", path.string(), ": ");
  auto check_text = [&](const std::string& s, const char* what) {
    SBERT_CHECK(simdjson::validate_utf8(s.data(), s.size()), w, what, " '", s,
                "' is not valid UTF-8");
  };

  JsonWriter header_json;  // compact, as the Rust crate writes it
  header_json.begin_object();
  if (!metadata.empty()) {
    header_json.key("__metadata__").begin_object();
    for (const auto& [k, v] : metadata) {
      check_text(k, "metadata key");
      check_text(v, "metadata value");
      header_json.member(k, v);
    }
    header_json.end_object();
  }

  std::vector<uint64_t> sizes;
  sizes.reserve(tensors.size());
  std::unordered_map<std::string, size_t> seen;
  uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    SBERT_CHECK(!t.name.empty(), w, "tensor with an empty name");
    SBERT_CHECK(t.name != "__metadata__", w, "'__metadata__' cannot name a tensor");
    check_text(t.name, "tensor name");
    SBERT_CHECK(seen.emplace(t.name, sizes.size()).second, w, "tensor '", t.name, "' given twice");
    int64_t numel = 0;
    SBERT_CHECK(checked_numel(t.shape, &numel), w, "tensor '", t.name, "' has shape ",
                shape_str(t.shape), " (negative or too many elements)");
    uint64_t nbytes = 0;
    SBERT_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel),
                                        static_cast<uint64_t>(dtype_size(t.dtype)), &nbytes) &&
                    !__builtin_add_overflow(offset, nbytes, &offset),
                w, "tensor '", t.name, "' of shape ", shape_str(t.shape), " is too large");
    SBERT_CHECK(nbytes == 0 || t.data != nullptr, w, "tensor '", t.name, "' has no data");
    sizes.push_back(nbytes);
    header_json.key(t.name).begin_object().member("dtype", dtype_name(t.dtype));
    header_json.key("shape").begin_array();
    for (const int64_t d : t.shape) header_json.value(d);
    header_json.end_array().key("data_offsets").begin_array();
    header_json.value(offset - nbytes).value(offset).end_array().end_object();
  }
  header_json.end_object();
  std::string header = header_json.take();
  // Pad with spaces so that the data block starts 8-byte aligned, as the Rust crate does.
  header.append((8 - header.size() % 8) % 8, ' ');
  SBERT_CHECK(header.size() <= kMaxHeaderBytes, w, "header of ", header.size(),
              " bytes exceeds the limit of ", kMaxHeaderBytes, " bytes");

  AtomicFile f(path);
  const uint64_t n = header.size();
  uint8_t len[8];
  std::memcpy(len, &n, 8);
  f.write(len, 8);
  f.write(header);
  for (size_t i = 0; i < tensors.size(); ++i) f.write(tensors[i].data, sizes[i]);
  f.commit();
}

}  // namespace sbert
