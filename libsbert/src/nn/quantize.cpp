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

}  // namespace sbert
