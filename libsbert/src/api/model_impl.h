// Model::Impl: what a loaded model holds. Internal; train/ and apps reach it via Model::impl().
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/dtype.h"

#include "nn/bert_params.h"
#include "nn/quantize.h"
#include "sbert/model.h"

namespace sbert {

// A tensor of the source checkpoint that the encoder does not use (BERT's pooler,
// position_ids buffers), kept byte for byte so that an export writes it back unchanged.
struct ExtraTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

struct SBERT_LOCAL Model::Impl {
  std::filesystem::path dir;
  ModelConfig config;
  Tokenizer tokenizer;
  ParamLayout layout;
  std::vector<float> weights;  // (layout.total) the one parameter block
  BertView view;               // pointers into weights
  std::string weight_prefix;   // "", "bert." or "roberta.": how the source checkpoint names tensors
  std::vector<ExtraTensor> extras;
  // config_sentence_transformers.json's prompts and default_prompt_name ("" for null); written
  // back by every save and checkpoint (io/model_writer), so the trainer sets them to its prefixes.
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;
  // int8 weights: set at load (LoadOptions / saved int8 model: quantization() == Int8), or at
  // the first EmbedOptions::quantize = Int8 call on an fp32 model (int8_mutex guards that).
  Quantize quantization = Quantize::None;
  mutable std::shared_ptr<const QuantizedBert> int8 = nullptr;
  // bf16x3 weights (MatmulPrecision::High): made at the first High embed call on the CPU.
  mutable std::shared_ptr<const SplitBert> bf16x3 = nullptr;
  std::unique_ptr<std::mutex> int8_mutex = std::make_unique<std::mutex>();  // int8 and bf16x3
};

}  // namespace sbert
