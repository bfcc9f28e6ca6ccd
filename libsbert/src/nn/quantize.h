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

}  // namespace sbert
