// The sentence-embedding head after the encoder: mean or CLS pooling, then optional L2
// normalization (sentence-transformers' Pooling and Normalize modules). Templates on the
// scalar type (float; double for the fp64 gradient tests); PoolingCache is the float one.
#pragma once

#include <vector>

#include "core/context.h"
#include "nn/encoder.h"

namespace sbert {

template <class T>
struct PoolingCacheT {
  std::vector<T> pooled;   // (nseq, H) before normalization
  std::vector<T> norm;     // (nseq) row norms when normalizing
  std::vector<T> out;      // (nseq, H) the sentence embeddings
  std::vector<T> dpooled;  // (nseq, H) backward work buffer
};

using PoolingCache = PoolingCacheT<float>;

template <class T>
void pooling_forward(const Context& ctx, const ModelConfig& cfg, const T* hidden,
                     const PackedBatch& batch, PoolingCacheT<T>& cache);

// dhidden (T, H) written from dout (nseq, H), the gradient of cache.out.
template <class T>
void pooling_backward(const Context& ctx, const ModelConfig& cfg, const PackedBatch& batch,
                      PoolingCacheT<T>& cache, const T* dout, T* dhidden);

}  // namespace sbert
