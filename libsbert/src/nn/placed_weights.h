// A model's parameter block where a Context's ops run, for inference passes and benchmarks
// (the trainer keeps its own device state: train/trainer.cpp).
#pragma once

#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/context.h"
#include "cuda/runtime.h"
#include "nn/bert_params.h"

namespace sbert {

struct PlacedWeights {
  std::unique_ptr<cuda::Runtime> runtime;  // CUDA: GPU 0's stream and cuBLASLt, set into ctx
  Buffer<float> block;                     // CUDA: a copy of the weights (layout.total)
  BertView view;                           // the weights the ops read, on ctx's device
  float* data = nullptr;                   // the block the view points into
};

// On the CPU, the given host block and view as they are. On CUDA, a Runtime (ctx.cuda is set to
// it) and a device copy of weights made now, so it holds the model's current weights.
PlacedWeights place_weights(Context& ctx, const ModelConfig& cfg, const ParamLayout& layout,
                            std::vector<float>& weights, const BertView& host_view);

}  // namespace sbert
