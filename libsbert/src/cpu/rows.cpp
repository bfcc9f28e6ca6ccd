// GradCache's row moves between a micro-batch's embeddings and the global batch's, the twins of
// cuda/rows.cu.
#include <algorithm>

#include "cpu/train_kernels.h"

namespace sbert::cpu {

void gather_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r) std::copy_n(inp + index[r] * C, C, out + r * C);
}

void scatter_rows(float* out, const float* inp, const int64_t* index, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r) std::copy_n(inp + r * C, C, out + index[r] * C);
}

}  // namespace sbert::cpu
