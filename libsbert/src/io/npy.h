// NumPy .npy (format 1.0) writing and reading of float32 C-order matrices.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "sbert/util.h"

namespace sbert {


struct NpyF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
NpyF32 read_npy_f32(const std::filesystem::path& path);  // '<f4', C order; throws otherwise

}  // namespace sbert
