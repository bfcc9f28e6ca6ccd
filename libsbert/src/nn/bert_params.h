// The parameters of a BERT encoder in ONE float block, carved by a table of named shapes.
// The same layout serves weights, gradients and AdamW moments, so each is a single allocation
// and the optimizer is one pass over the block.
//
// Within a layer, query/key/value weights are adjacent, then their biases: the fused QKV
// projection (3H, H) and bias (3H) are plain views, with no copy at load time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sbert/config.h"

namespace sbert {

class SafetensorsFile;

struct ParamSpec {
  std::string name;  // Hugging Face BertModel name, e.g. "encoder.layer.0.output.dense.weight"
  std::vector<int64_t> shape;
  int64_t offset = 0;  // in floats from the start of the block
  int64_t numel = 0;
  bool weight_decay = true;  // false for biases and LayerNorm parameters (NeMo / HF convention)
};

struct ParamLayout {
  std::vector<ParamSpec> specs;
  int64_t total = 0;                                     // floats
  const ParamSpec& find(const std::string& name) const;  // throws naming the parameter
};

ParamLayout make_bert_layout(const ModelConfig& cfg);

// Typed pointers into a block laid out by make_bert_layout (weights, or their gradients).
// T = float for the library; T = double for the fp64 finite-difference tests.
template <class T>
struct BertLayerViewT {
  T* qkv_w;       // (3H, H)  rows: query, key, value
  T* qkv_b;       // (3H)
  T* attn_out_w;  // (H, H)
  T* attn_out_b;  // (H)
  T* ln1_w;       // (H)
  T* ln1_b;       // (H)
  T* ffn_in_w;    // (I, H)
  T* ffn_in_b;    // (I)
  T* ffn_out_w;   // (H, I)
  T* ffn_out_b;   // (H)
  T* ln2_w;       // (H)
  T* ln2_b;       // (H)
};

template <class T>
struct BertViewT {
  T* word_emb;  // (V, H)
  T* pos_emb;   // (P, H)
  T* type_emb;  // (types, H)
  T* emb_ln_w;  // (H)
  T* emb_ln_b;  // (H)
  std::vector<BertLayerViewT<T>> layers;
};

using BertLayerView = BertLayerViewT<float>;
using BertView = BertViewT<float>;

// Binds a view to a block of layout.total elements (instantiated for float and double).
template <class T>
BertViewT<T> bind_bert(const ModelConfig& cfg, const ParamLayout& layout, T* base);

// Fills the block from a Hugging Face checkpoint. Accepts names with no prefix, a "bert." or a
// "roberta." prefix, and the old LayerNorm "gamma"/"beta" spelling. Throws naming the file and
// tensor for a missing tensor or a wrong shape.
// Returns the names of the file's tensors that the layout did not consume (pooler, buffers) and
// the prefix found ("", "bert." or "roberta.").
//
// Saved int8 weights (nn/quantize.h): a linear weight stored as I8 with its "<name>_scale" F32
// (n) is dequantized into the block (w = scale[row] * q) and returned in int8 as read, keyed by
// the layout name; an I8 tensor anywhere else, a missing or misshapen scale, or a scale that is
// negative or not finite throws naming the tensor.
struct Int8Tensor {
  std::vector<int8_t> q;     // (n, k)
  std::vector<float> scale;  // (n)
};
struct LoadReport {
  std::string prefix;
  std::vector<std::string> unused;
  std::map<std::string, Int8Tensor> int8;
};
// Whether a parameter may be stored as I8: predicate of the layout name (nn/quantize.h's
// is_int8_param for a BERT).
using Int8Allowed = std::function<bool(const std::string& param)>;
LoadReport load_bert_weights(const SafetensorsFile& file, const ParamLayout& layout, float* base,
                             const Int8Allowed& int8_allowed = {});

}  // namespace sbert
