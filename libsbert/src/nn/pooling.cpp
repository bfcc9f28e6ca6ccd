#include "nn/pooling.h"

#include "ops/ops.h"

namespace sbert {

void pooling_forward(const Context& ctx, const ModelConfig& cfg, const float* hidden,
                     const PackedBatch& batch, PoolingCache& cache) {
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  cache.pooled.resize(static_cast<size_t>(n * H));
  cache.out.resize(static_cast<size_t>(n * H));
  cache.norm.resize(static_cast<size_t>(n));
  if (cfg.pooling == Pooling::Mean) {
    ops::mean_pool_forward(ctx, cache.pooled.data(), hidden, batch.cu_seqlens.data(), n, H);
  } else {
    ops::cls_pool_forward(ctx, cache.pooled.data(), hidden, batch.cu_seqlens.data(), n, H);
  }
  if (cfg.normalize) {
    ops::l2norm_forward(ctx, cache.out.data(), cache.norm.data(), cache.pooled.data(), n, H);
  } else {
    cache.out = cache.pooled;
  }
}

}  // namespace sbert
