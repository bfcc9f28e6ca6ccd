#include "nn/quantize.h"

#include "core/check.h"

namespace sbert {

namespace {
// make(weight, n, k) applied to the four linear weights of every layer of w.
template <class W, class Make>
std::vector<LayerLinears<W>> convert_linears(const ModelConfig& cfg, const BertView& w,
                                             Make make) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  std::vector<LayerLinears<W>> layers;
  layers.reserve(static_cast<size_t>(cfg.num_layers));
  for (const BertLayerView& p : w.layers) {
    layers.push_back({make(p.qkv_w, 3 * H, H), make(p.attn_out_w, H, H),
                      make(p.ffn_in_w, I, H), make(p.ffn_out_w, H, I)});
  }
  return layers;
}
}  // namespace

QuantizedBert quantize_bert(const ModelConfig& cfg, const BertView& w) {
  QuantizedBert q;
  q.isa = cpu::best_qisa();
  q.layers = convert_linears<cpu::QWeight>(cfg, w, cpu::quantize_weight);
  return q;
}

SplitBert split_bert(const ModelConfig& cfg, const BertView& w) {
  return {convert_linears<cpu::SplitWeight>(cfg, w, cpu::split_weight)};
}

namespace {
// The six linear weights of a layer: the name after "encoder.layer.<l>.", the QWeight of
// QuantizedLayer that holds it, and the first of its rows there (in units of H).
struct Linear {
  const char* name;
  cpu::QWeight QuantizedLayer::*weight;
  int64_t row0_h;
};
constexpr Linear kLinears[] = {
    {"attention.self.query.weight", &QuantizedLayer::qkv, 0},
    {"attention.self.key.weight", &QuantizedLayer::qkv, 1},
    {"attention.self.value.weight", &QuantizedLayer::qkv, 2},
    {"attention.output.dense.weight", &QuantizedLayer::attn_out, 0},
    {"intermediate.dense.weight", &QuantizedLayer::ffn_in, 0},
    {"output.dense.weight", &QuantizedLayer::ffn_out, 0},
};

// (layer, linear) of a layout parameter name, or layer -1.
std::pair<int, const Linear*> parse_linear(const ModelConfig& cfg, const std::string& param) {
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    if (param.compare(0, p.size(), p) != 0) continue;
    for (const Linear& lin : kLinears) {
      if (param.compare(p.size(), std::string::npos, lin.name) == 0) return {l, &lin};
    }
    return {-1, nullptr};
  }
  return {-1, nullptr};
}
}  // namespace

bool is_int8_param(const ModelConfig& cfg, const std::string& param) {
  return parse_linear(cfg, param).first >= 0;
}

std::optional<Int8Rows> int8_rows(const QuantizedBert& q, const ModelConfig& cfg,
                                  const std::string& param) {
  const auto [l, lin] = parse_linear(cfg, param);
  if (l < 0) return std::nullopt;
  SBERT_CHECK(l < static_cast<int>(q.layers.size()), "[int8] no int8 weights for layer ", l);
  const cpu::QWeight& w = q.layers[static_cast<size_t>(l)].*(lin->weight);
  const int64_t H = cfg.hidden_size;
  const int64_t rows = lin->weight == &QuantizedLayer::qkv ? H : w.n;
  return Int8Rows{&w, lin->row0_h * H, rows};
}

QuantizedBert int8_from_stored(const ModelConfig& cfg,
                               const std::map<std::string, Int8Tensor>& stored,
                               const std::string& file) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  QuantizedBert q;
  q.isa = cpu::best_qisa();
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    auto get = [&](const char* name) -> const Int8Tensor& {
      const auto it = stored.find(p + name);
      SBERT_CHECK(it != stored.end(), "[load] ", file, ": tensor '", p, name,
                  "' is not int8 while other linear weights are (a saved int8 model has all "
                  "of them int8)");
      return it->second;
    };
    std::vector<int8_t> qkv;  // query, key, value rows, in kLinears' order
    std::vector<float> qkv_scale;
    for (const Linear& lin : kLinears) {
      if (lin.weight != &QuantizedLayer::qkv) continue;
      const Int8Tensor& t = get(lin.name);
      qkv.insert(qkv.end(), t.q.begin(), t.q.end());
      qkv_scale.insert(qkv_scale.end(), t.scale.begin(), t.scale.end());
    }
    const Int8Tensor& ao = get("attention.output.dense.weight");
    const Int8Tensor& fi = get("intermediate.dense.weight");
    const Int8Tensor& fo = get("output.dense.weight");
    q.layers.push_back({cpu::make_qweight(std::move(qkv), std::move(qkv_scale), 3 * H, H),
                        cpu::make_qweight(ao.q, ao.scale, H, H),
                        cpu::make_qweight(fi.q, fi.scale, I, H),
                        cpu::make_qweight(fo.q, fo.scale, H, I)});
  }
  return q;
}

}  // namespace sbert
