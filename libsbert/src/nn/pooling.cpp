#include "nn/pooling.h"

#include "core/check.h"
#include "ops/ops.h"

namespace sbert {

template <class T>
void pooling_forward(const Context& ctx, const ModelConfig& cfg, const T* hidden,
                     const PackedBatch& batch, PoolingCacheT<T>& cache) {
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  cache.pooled.resize(static_cast<size_t>(n * H));
  cache.out.resize(static_cast<size_t>(n * H));
  cache.norm.resize(static_cast<size_t>(n));
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_forward(ctx, cache.pooled.data(), hidden, batch.cu_seqlens.data(), n, H);
  } else {
    for (int64_t s = 0; s < n; ++s) {
      SBERT_CHECK(batch.cu_seqlens[s + 1] > batch.cu_seqlens[s], "[pooling] sequence ", s,
                  " is empty: CLS pooling needs at least one token");
    }
    ops::cls_pool_forward(ctx, cache.pooled.data(), hidden, batch.cu_seqlens.data(), n, H);
  }
  if (cfg.normalize) {
    ops::l2norm_forward(ctx, cache.out.data(), cache.norm.data(), cache.pooled.data(), n, H);
  } else {
    cache.out = cache.pooled;
  }
}

template <class T>
void pooling_backward(const Context& ctx, const ModelConfig& cfg, const PackedBatch& batch,
                      PoolingCacheT<T>& cache, const T* dout, T* dhidden) {
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  SBERT_CHECK(static_cast<int64_t>(cache.out.size()) == n * H,
              "[pooling_backward] the cache holds ", cache.out.size() / static_cast<size_t>(H),
              " embeddings but the batch has ", n);
  const T* dpooled = dout;
  if (cfg.normalize) {
    cache.dpooled.resize(static_cast<size_t>(n * H));
    ops::l2norm_backward(ctx, cache.dpooled.data(), dout, cache.out.data(), cache.norm.data(), n,
                         H);
    dpooled = cache.dpooled.data();
  }
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_backward(ctx, dhidden, dpooled, batch.cu_seqlens.data(), n, H);
  } else {
    ops::cls_pool_backward(ctx, dhidden, dpooled, batch.cu_seqlens.data(), n, H);
  }
}

#define SBERT_INSTANTIATE(T)                                                                \
  template void pooling_forward<T>(const Context&, const ModelConfig&, const T*,            \
                                   const PackedBatch&, PoolingCacheT<T>&);                  \
  template void pooling_backward<T>(const Context&, const ModelConfig&, const PackedBatch&, \
                                    PoolingCacheT<T>&, const T*, T*);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert
