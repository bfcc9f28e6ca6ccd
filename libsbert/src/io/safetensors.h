// safetensors reading (memory-mapped, every offset, size and shape checked against the file)
// and writing (to a temporary name, flushed, then renamed).
//
// Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data block; offsets are relative to the data block.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace sbert {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data block
  uint64_t end = 0;
  // False for a dtype safetensors knows but libsbert does not read (BOOL, I16, F8_E4M3, ...):
  // such a tensor is size-checked and listed, `dtype` is meaningless, and reading it throws.
  bool supported = true;
  std::string dtype_name;  // the dtype as spelled in the file ("F32", "F8_E4M3", ...)
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Throws sbert::Error("[safetensors] <path>: <what is wrong>") for a missing or short file,
  // a header that is not JSON or lies about sizes, unknown dtypes, overlapping or
  // out-of-bounds data, and shapes whose element count does not match the byte size.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const;
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws naming the tensor
  std::vector<std::string> names() const;                 // in file order
  const std::map<std::string, std::string>& metadata() const;
  std::span<const uint8_t> bytes(const std::string& name) const;

  // The tensor converted to float32 (from F32, F16, BF16, F64). If expected_shape is not
  // empty, a different shape throws "[safetensors] <path>: tensor 'x' has shape [a, b],
  // expected [c, d]".
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<int64_t>& expected_shape = {}) const;
  // Same, into caller memory of exactly numel floats.
  void read_f32_into(const std::string& name, float* out,
                     const std::vector<int64_t>& expected_shape) const;
  std::vector<int8_t> read_i8(const std::string& name,
                              const std::vector<int64_t>& expected_shape = {}) const;  // I8 only
  std::vector<int64_t> read_i64(const std::string& name) const;  // from I64 or I32
  std::vector<int32_t> read_i32(const std::string& name) const;  // from I32 or I64 (range-checked)

  struct Impl;
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

 private:
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A tensor to write: raw little-endian bytes of numel(shape) elements of dtype.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Writes tensors in the given order ("__metadata__" first when non-empty; header padded with
// spaces so the data block starts 8-byte aligned, as the Rust writer does; tensor data
// contiguous in that order) to a temporary file beside path, fsyncs it, then renames it over path.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sbert
