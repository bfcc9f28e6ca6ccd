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
                      : cu_on_device            ? cu_on_device
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
    ops::mean_pool_forward(ctx,
                           {.out = pooled, .inp = hidden, .cu_seqlens = cu, .nseq = n, .C = H});
  } else {
    for (int64_t s = 0; s < n; ++s) {
      SBERT_CHECK(batch.cu_seqlens[s + 1] > batch.cu_seqlens[s], "[pooling] sequence ", s,
                  " is empty: CLS pooling needs at least one token");
    }
    ops::cls_pool_forward(ctx, {.out = pooled, .inp = hidden, .cu_seqlens = cu, .nseq = n, .C = H});
  }
  if (cfg.normalize) {
    ops::l2norm_forward(
        ctx,
        {.out = cache.out.data(), .norm = cache.norm.data(), .inp = pooled, .rows = n, .C = H});
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
    ops::l2norm_backward(ctx, {.dinp = cache.dpooled.data(),
                               .dout = dout,
                               .out = cache.out.data(),
                               .norm = cache.norm.data(),
                               .rows = n,
                               .C = H});
    dpooled = cache.dpooled.data();
  }
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_backward(
        ctx, {.dinp = dhidden, .dout = dpooled, .cu_seqlens = cu, .nseq = n, .C = H});
  } else {
    ops::cls_pool_backward(ctx,
                           {.dinp = dhidden, .dout = dpooled, .cu_seqlens = cu, .nseq = n, .C = H});
  }
}

namespace {
// Every buffer of a pass over nseq sequences, through size(buffer, elements): pooling_reserve
// allocates, pooling_reserve_bytes counts.
template <class T, class Size>
void size_pooling(const ModelConfig& cfg, PoolingCacheT<T>& cache, int64_t nseq, bool backward,
                  Size&& size) {
  const int64_t H = cfg.hidden_size;
  size(cache.cu_staged, nseq + 1);
  size(cache.out, nseq * H);
  if (!cfg.normalize) return;
  size(cache.pooled, nseq * H);
  size(cache.norm, nseq);
  if (backward) size(cache.dpooled, nseq * H);
}
}  // namespace

template <class T>
void pooling_reserve(const Context& ctx, const ModelConfig& cfg, int64_t nseq, bool backward,
                     PoolingCacheT<T>& cache) {
  size_pooling(cfg, cache, nseq, backward,
               [&ctx](auto& buffer, int64_t n) { buffer.resize(ctx, static_cast<size_t>(n)); });
}

template <class T>
size_t pooling_reserve_bytes(const ModelConfig& cfg, int64_t nseq, bool backward) {
  size_t bytes = 0;
  PoolingCacheT<T> cache;  // host-side shells only: the count allocates nothing
  size_pooling(cfg, cache, nseq, backward, [&bytes](auto& buffer, int64_t n) {
    bytes += static_cast<size_t>(n) * sizeof(*buffer.data());
  });
  return bytes;
}

#define SBERT_INSTANTIATE(T)                                                                \
  template void pooling_forward<T>(const Context&, const ModelConfig&, const T*,            \
                                   const PackedBatch&, PoolingCacheT<T>&, const int64_t*);  \
  template void pooling_backward<T>(const Context&, const ModelConfig&, const PackedBatch&, \
                                    PoolingCacheT<T>&, const T*, T*);                       \
  template void pooling_reserve<T>(const Context&, const ModelConfig&, int64_t, bool,       \
                                   PoolingCacheT<T>&);                                      \
  template size_t pooling_reserve_bytes<T>(const ModelConfig&, int64_t, bool);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert
