#include "nn/placed_weights.h"

namespace sbert {

PlacedWeights place_weights(Context& ctx, const ModelConfig& cfg, const ParamLayout& layout,
                            std::vector<float>& weights, const BertView& host_view) {
  PlacedWeights p;
  p.view = host_view;
  p.data = weights.data();
  if (ctx.device == Device::CUDA) {
    p.runtime = std::make_unique<cuda::Runtime>(0);
    ctx.cuda = p.runtime.get();
    p.block.resize(ctx, weights.size());
    p.block.write(ctx, weights.data());
    p.data = p.block.data();
    p.view = bind_bert(cfg, layout, p.data);
  }
  return p;
}

}  // namespace sbert
