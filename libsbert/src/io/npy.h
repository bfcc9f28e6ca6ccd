// NumPy .npy (format 1.0) writing and reading of float32 C-order matrices.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace sbert {

// Writes a (rows, cols) float32 array atomically (temporary name, then rename).
void write_npy_f32(const std::filesystem::path& path, const float* data, int64_t rows,
                   int64_t cols);

struct NpyF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
NpyF32 read_npy_f32(const std::filesystem::path& path);  // '<f4', C order; throws otherwise

}  // namespace sbert
