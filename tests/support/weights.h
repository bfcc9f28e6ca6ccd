// A model folder's encoder without its tokenizer: config, parameter layout and weights, for the
// parity tests that start from token ids (they run whatever tokenizer the folder has or not).
#pragma once

#include <filesystem>
#include <vector>

#include "io/safetensors.h"
#include "nn/bert_params.h"
#include "sbert/config.h"

namespace sbert::test {

struct EncoderWeights {
  ModelConfig config;
  ParamLayout layout;
  std::vector<float> weights;  // (layout.total)
  BertView view;

  explicit EncoderWeights(const std::filesystem::path& dir)
      : config(load_model_config(dir)), layout(make_bert_layout(config)) {
    weights.assign(static_cast<size_t>(layout.total), 0.0f);
    load_bert_weights(SafetensorsFile::open(dir / "model.safetensors"), layout, weights.data());
    view = bind_bert(config, layout, weights.data());
  }
  EncoderWeights(const EncoderWeights&) = delete;
  EncoderWeights& operator=(const EncoderWeights&) = delete;
};

}  // namespace sbert::test
