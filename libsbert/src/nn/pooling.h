// The sentence-embedding head after the encoder: mean or CLS pooling, then optional L2
// normalization (sentence-transformers' Pooling and Normalize modules). Templates on the
// scalar type (float; double for the fp64 gradient tests); PoolingCache is the float one.
#pragma once

#include "core/buffer.h"
#include "core/context.h"
#include "nn/encoder.h"

namespace sbert {

// Buffers on the Context's device (core/buffer.h), like the encoder's cache.
template <class T>
struct PoolingCacheT {
  Buffer<T> pooled;           // (nseq, H) before normalization (unused without it)
  Buffer<T> norm;             // (nseq) row norms when normalizing
  Buffer<T> out;              // (nseq, H) the sentence embeddings
  Buffer<T> dpooled;          // (nseq, H) backward work buffer
  Buffer<int64_t> cu_staged;  // (nseq + 1) the batch's cu_seqlens on a device (stage())
  const int64_t* cu = nullptr;  // the offsets the last forward read on a device (for backward)
};

using PoolingCache = PoolingCacheT<float>;

// hidden (T, H): the encoder's output, on ctx's device. cu_on_device: the batch's cu_seqlens
// already on ctx's device (the encoder's staged copy: staged_cu_seqlens), or null to stage them.
template <class T>
void pooling_forward(const Context& ctx, const ModelConfig& cfg, const T* hidden,
                     const PackedBatch& batch, PoolingCacheT<T>& cache,
                     const int64_t* cu_on_device = nullptr);

// dhidden (T, H) written from dout (nseq, H), the gradient of cache.out. The cache must come
// from pooling_forward on the same batch (its offsets are read from there on a device).
template <class T>
void pooling_backward(const Context& ctx, const ModelConfig& cfg, const PackedBatch& batch,
                      PoolingCacheT<T>& cache, const T* dout, T* dhidden);

// Sizes the buffers of a pass over up to nseq sequences (and its backward): encoder_reserve's
// twin.
template <class T>
void pooling_reserve(const Context& ctx, const ModelConfig& cfg, int64_t nseq, bool backward,
                     PoolingCacheT<T>& cache);
// The bytes pooling_reserve would allocate into an empty cache, allocating nothing.
template <class T>
size_t pooling_reserve_bytes(const ModelConfig& cfg, int64_t nseq, bool backward);

}  // namespace sbert
