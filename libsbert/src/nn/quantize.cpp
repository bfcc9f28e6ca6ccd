#include "nn/quantize.h"

#include "core/check.h"

namespace sbert {

QuantizedBert quantize_bert(const ModelConfig& cfg, const BertView& w) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  QuantizedBert q;
  q.isa = cpu::best_qisa();
  q.layers.reserve(static_cast<size_t>(cfg.num_layers));
  for (const BertLayerView& p : w.layers) {
    q.layers.push_back({cpu::quantize_weight(p.qkv_w, 3 * H, H),
                        cpu::quantize_weight(p.attn_out_w, H, H),
                        cpu::quantize_weight(p.ffn_in_w, I, H),
                        cpu::quantize_weight(p.ffn_out_w, H, I)});
  }
  return q;
}

namespace {
void dequantize(float* out, const cpu::QWeight& w) {
  for (int64_t j = 0; j < w.n; ++j) {
    const float s = w.scale[static_cast<size_t>(j)];
    for (int64_t t = 0; t < w.k; ++t) {
      out[j * w.k + t] = s * static_cast<float>(w.q[static_cast<size_t>(j * w.k + t)]);
    }
  }
}
}  // namespace

void dequantize_bert(const ModelConfig& cfg, const QuantizedBert& q, const BertView& w) {
  SBERT_CHECK(q.layers.size() == w.layers.size() &&
                  static_cast<int>(q.layers.size()) == cfg.num_layers,
              "[quantize] ", q.layers.size(), " int8 layers for a model of ", cfg.num_layers);
  for (size_t l = 0; l < q.layers.size(); ++l) {
    dequantize(w.layers[l].qkv_w, q.layers[l].qkv);
    dequantize(w.layers[l].attn_out_w, q.layers[l].attn_out);
    dequantize(w.layers[l].ffn_in_w, q.layers[l].ffn_in);
    dequantize(w.layers[l].ffn_out_w, q.layers[l].ffn_out);
  }
}

}  // namespace sbert
