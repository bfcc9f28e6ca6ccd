// Model::Impl: what a loaded model holds. Internal; train/ and apps reach it via Model::impl().
#pragma once

#include <filesystem>
#include <vector>

#include "nn/bert_params.h"
#include "sbert/model.h"

namespace sbert {

struct Model::Impl {
  std::filesystem::path dir;
  ModelConfig config;
  Tokenizer tokenizer;
  ParamLayout layout;
  std::vector<float> weights;  // (layout.total) the one parameter block
  BertView view;               // pointers into weights
};

}  // namespace sbert
