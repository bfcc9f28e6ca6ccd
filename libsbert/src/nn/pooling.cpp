#include "nn/pooling.h"

#include "core/check.h"
#include "ops/ops.h"

namespace sbert {

template <class T>
void pooling_forward(const Context& ctx, const ModelConfig& cfg, const T* hidden,
                     const PackedBatch& batch, PoolingCacheT<T>& cache,
                     const int64_t* cu_on_device) {
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  const int64_t* cu = ctx.device == Device::CPU ? batch.cu_seqlens.data()
                      : cu_on_device           ? cu_on_device
                                               : stage(ctx, cache.cu_staged, batch.cu_seqlens);
  cache.cu = cu;
  cache.out.resize(ctx, static_cast<size_t>(n * H));
  // Without normalization the pooled rows are the embeddings: pool straight into out.
  T* pooled = cache.out.data();
  if (cfg.normalize) {
    cache.pooled.resize(ctx, static_cast<size_t>(n * H));
    cache.norm.resize(ctx, static_cast<size_t>(n));
    pooled = cache.pooled.data();
  }
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_forward(ctx, pooled, hidden, cu, n, H);
  } else {
    for (int64_t s = 0; s < n; ++s) {
      SBERT_CHECK(batch.cu_seqlens[s + 1] > batch.cu_seqlens[s], "[pooling] sequence ", s,
                  " is empty: CLS pooling needs at least one token");
    }
    ops::cls_pool_forward(ctx, pooled, hidden, cu, n, H);
  }
  if (cfg.normalize) {
    ops::l2norm_forward(ctx, cache.out.data(), cache.norm.data(), pooled, n, H);
  }
}

template <class T>
void pooling_backward(const Context& ctx, const ModelConfig& cfg, const PackedBatch& batch,
                      PoolingCacheT<T>& cache, const T* dout, T* dhidden) {
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  SBERT_CHECK(static_cast<int64_t>(cache.out.size()) == n * H,
              "[pooling_backward] the cache holds ", cache.out.size() / static_cast<size_t>(H),
              " embeddings but the batch has ", n);
  const int64_t* cu = ctx.device == Device::CPU ? batch.cu_seqlens.data() : cache.cu;
  const T* dpooled = dout;
  if (cfg.normalize) {
    cache.dpooled.resize(ctx, static_cast<size_t>(n * H));
    ops::l2norm_backward(ctx, cache.dpooled.data(), dout, cache.out.data(), cache.norm.data(), n,
                         H);
    dpooled = cache.dpooled.data();
  }
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_backward(ctx, dhidden, dpooled, cu, n, H);
  } else {
    ops::cls_pool_backward(ctx, dhidden, dpooled, cu, n, H);
  }
}

template <class T>
void pooling_reserve(const Context& ctx, const ModelConfig& cfg, int64_t nseq, bool backward,
                     PoolingCacheT<T>& cache) {
  const int64_t H = cfg.hidden_size;
  cache.cu_staged.resize(ctx, static_cast<size_t>(nseq + 1));
  cache.out.resize(ctx, static_cast<size_t>(nseq * H));
  if (!cfg.normalize) return;
  cache.pooled.resize(ctx, static_cast<size_t>(nseq * H));
  cache.norm.resize(ctx, static_cast<size_t>(nseq));
  if (backward) cache.dpooled.resize(ctx, static_cast<size_t>(nseq * H));
}

#define SBERT_INSTANTIATE(T)                                                                \
  template void pooling_forward<T>(const Context&, const ModelConfig&, const T*,            \
                                   const PackedBatch&, PoolingCacheT<T>&, const int64_t*);  \
  template void pooling_backward<T>(const Context&, const ModelConfig&, const PackedBatch&, \
                                    PoolingCacheT<T>&, const T*, T*);                       \
  template void pooling_reserve<T>(const Context&, const ModelConfig&, int64_t, bool,       \
                                   PoolingCacheT<T>&);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert
