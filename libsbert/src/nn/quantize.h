// int8 inference weights of a BERT encoder (docs/quantization.md): the four linear layers of
// every layer as per-output-channel symmetric int8 (cpu/qgemm.h); embeddings, LayerNorm,
// attention, softmax and pooling stay fp32 and read the float BertView. Inference only.
#pragma once

#include <vector>

#include "cpu/qgemm.h"
#include "nn/bert_params.h"

namespace sbert {

struct QuantizedLayer {
  cpu::QWeight qkv;       // (3H, H)
  cpu::QWeight attn_out;  // (H, H)
  cpu::QWeight ffn_in;    // (I, H)
  cpu::QWeight ffn_out;   // (H, I)
};

struct QuantizedBert {
  std::vector<QuantizedLayer> layers;
  cpu::QIsa isa = cpu::QIsa::Scalar;  // the kernel the encoder runs (best_qisa() at quantization)
};

// Quantizes the linear weights of w (fp32) per output channel.
QuantizedBert quantize_bert(const ModelConfig& cfg, const BertView& w);

// The float weights an int8 layer stands for (w_scale[j] * Wq[j, k]), written into w's four
// linear weights: a model loaded from saved int8 weights keeps a consistent fp32 view.
void dequantize_bert(const ModelConfig& cfg, const QuantizedBert& q, const BertView& w);

}  // namespace sbert
