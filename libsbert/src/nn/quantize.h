// int8 inference weights of a BERT encoder (docs/quantization.md): the four linear layers of
// every layer as per-output-channel symmetric int8 (cpu/qgemm.h); embeddings, LayerNorm,
// attention, softmax and pooling stay fp32 and read the float BertView. Inference only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cpu/gemm_bf16x3.h"
#include "cpu/qgemm.h"
#include "nn/bert_params.h"

namespace sbert {

// The four linear layers of one encoder layer in an inference form W (nn.Linear's (out, in)).
template <class W>
struct LayerLinears {
  W qkv;       // (3H, H)
  W attn_out;  // (H, H)
  W ffn_in;    // (I, H)
  W ffn_out;   // (H, I)
};
using QuantizedLayer = LayerLinears<cpu::QWeight>;

struct QuantizedBert {
  std::vector<QuantizedLayer> layers;
  cpu::QIsa isa = cpu::QIsa::Scalar;  // the kernel the encoder runs (best_qisa() at quantization)
};

// Quantizes the linear weights of w (fp32) per output channel.
QuantizedBert quantize_bert(const ModelConfig& cfg, const BertView& w);

// bf16x3 inference weights (MatmulPrecision::High, cpu/gemm_bf16x3.h): the four linear layers
// of every layer split into bf16 hi and lo parts in AMX tile panels; everything else runs as
// the fp32 forward on the float BertView. Inference only.
using SplitLayer = LayerLinears<cpu::SplitWeight>;
struct SplitBert {
  std::vector<SplitLayer> layers;
};
SplitBert split_bert(const ModelConfig& cfg, const BertView& w);

// Saved int8 weights (sbert-convert --quantize int8): each of the six linear weights of a
// layer under its Hugging Face name as I8 (n, k), with "<name>_scale" F32 (n) beside it.
// Query, key and value are stored apart; their rows are the fused QKV weight's.
// Where a layout parameter's rows live in q (layer, which weight, first row), or nullopt for a
// parameter that is not one of the six (embeddings, biases, LayerNorm).
struct Int8Rows {
  const cpu::QWeight* weight = nullptr;
  int64_t row0 = 0, rows = 0;
};
std::optional<Int8Rows> int8_rows(const QuantizedBert& q, const ModelConfig& cfg,
                                  const std::string& param);
// Whether a layout parameter is one of the six linear weights a saved int8 model stores as I8.
bool is_int8_param(const ModelConfig& cfg, const std::string& param);
// The QuantizedBert of a saved int8 model: stored maps every int8 parameter (is_int8_param) to
// its (q, scale) as read. Throws naming the first parameter missing.
QuantizedBert int8_from_stored(const ModelConfig& cfg,
                               const std::map<std::string, Int8Tensor>& stored,
                               const std::string& file);

}  // namespace sbert
