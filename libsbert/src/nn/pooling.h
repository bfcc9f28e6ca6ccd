// The sentence-embedding head after the encoder: mean or CLS pooling, then optional L2
// normalization (sentence-transformers' Pooling and Normalize modules).
#pragma once

#include <vector>

#include "core/context.h"
#include "nn/encoder.h"

namespace sbert {

struct PoolingCache {
  std::vector<float> pooled;  // (nseq, H) before normalization
  std::vector<float> norm;    // (nseq) row norms when normalizing
  std::vector<float> out;     // (nseq, H) the sentence embeddings
};

void pooling_forward(const Context& ctx, const ModelConfig& cfg, const float* hidden,
                     const PackedBatch& batch, PoolingCache& cache);

}  // namespace sbert
