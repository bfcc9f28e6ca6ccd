#include "nn/bert_params.h"

#include <cmath>
#include <set>

#include "core/check.h"
#include "io/safetensors.h"

namespace sbert {

const ParamSpec& ParamLayout::find(const std::string& name) const {
  for (const ParamSpec& s : specs) {
    if (s.name == name) return s;
  }
  fail("[params] no parameter named '", name, "'");
}

ParamLayout make_bert_layout(const ModelConfig& cfg) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  ParamLayout L;
  // pad: start the next tensor on a 16-float (64-byte) boundary. Query and key are not padded
  // so that query/key/value stay contiguous whatever the hidden size.
  auto add = [&](std::string name, std::vector<int64_t> shape, bool decay, bool pad = true) {
    ParamSpec s;
    s.name = std::move(name);
    s.shape = std::move(shape);
    s.numel = 1;
    for (int64_t d : s.shape) s.numel *= d;
    s.offset = L.total;
    s.weight_decay = decay;
    L.total += pad ? (s.numel + 15) / 16 * 16 : s.numel;
    L.specs.push_back(std::move(s));
  };
  add("embeddings.word_embeddings.weight", {cfg.vocab_size, H}, true);
  add("embeddings.position_embeddings.weight", {cfg.max_position_embeddings, H}, true);
  add("embeddings.token_type_embeddings.weight", {cfg.type_vocab_size, H}, true);
  add("embeddings.LayerNorm.weight", {H}, false);
  add("embeddings.LayerNorm.bias", {H}, false);
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    add(p + "attention.self.query.weight", {H, H}, true, false);
    add(p + "attention.self.key.weight", {H, H}, true, false);
    add(p + "attention.self.value.weight", {H, H}, true);
    add(p + "attention.self.query.bias", {H}, false, false);
    add(p + "attention.self.key.bias", {H}, false, false);
    add(p + "attention.self.value.bias", {H}, false);
    add(p + "attention.output.dense.weight", {H, H}, true);
    add(p + "attention.output.dense.bias", {H}, false);
    add(p + "attention.output.LayerNorm.weight", {H}, false);
    add(p + "attention.output.LayerNorm.bias", {H}, false);
    add(p + "intermediate.dense.weight", {I, H}, true);
    add(p + "intermediate.dense.bias", {I}, false);
    add(p + "output.dense.weight", {H, I}, true);
    add(p + "output.dense.bias", {H}, false);
    add(p + "output.LayerNorm.weight", {H}, false);
    add(p + "output.LayerNorm.bias", {H}, false);
  }
  return L;
}

template <class T>
BertViewT<T> bind_bert(const ModelConfig& cfg, const ParamLayout& layout, T* base) {
  auto at = [&](const std::string& name) { return base + layout.find(name).offset; };
  BertViewT<T> v{};
  v.word_emb = at("embeddings.word_embeddings.weight");
  v.pos_emb = at("embeddings.position_embeddings.weight");
  v.type_emb = at("embeddings.token_type_embeddings.weight");
  v.emb_ln_w = at("embeddings.LayerNorm.weight");
  v.emb_ln_b = at("embeddings.LayerNorm.bias");
  const int64_t H = cfg.hidden_size;
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    BertLayerViewT<T> lv{};
    lv.qkv_w = at(p + "attention.self.query.weight");
    lv.qkv_b = at(p + "attention.self.query.bias");
    SBERT_CHECK(at(p + "attention.self.value.weight") == lv.qkv_w + 2 * H * H &&
                    at(p + "attention.self.value.bias") == lv.qkv_b + 2 * H,
                "[params] query/key/value of layer ", l, " are not contiguous (hidden ", H, ")");
    lv.attn_out_w = at(p + "attention.output.dense.weight");
    lv.attn_out_b = at(p + "attention.output.dense.bias");
    lv.ln1_w = at(p + "attention.output.LayerNorm.weight");
    lv.ln1_b = at(p + "attention.output.LayerNorm.bias");
    lv.ffn_in_w = at(p + "intermediate.dense.weight");
    lv.ffn_in_b = at(p + "intermediate.dense.bias");
    lv.ffn_out_w = at(p + "output.dense.weight");
    lv.ffn_out_b = at(p + "output.dense.bias");
    lv.ln2_w = at(p + "output.LayerNorm.weight");
    lv.ln2_b = at(p + "output.LayerNorm.bias");
    v.layers.push_back(lv);
  }
  return v;
}

template BertViewT<float> bind_bert<float>(const ModelConfig&, const ParamLayout&, float*);
template BertViewT<double> bind_bert<double>(const ModelConfig&, const ParamLayout&, double*);

namespace {

// How checkpoints name the encoder's tensors: bare (a sentence-transformers folder saves the
// base model), or inside a task model (BertForMaskedLM "bert.", XLMRobertaForMaskedLM and
// RobertaForMaskedLM "roberta.").
constexpr const char* kWeightPrefixes[] = {"", "bert.", "roberta."};

// The name under which a parameter is stored in this file, or "" if absent.
std::string stored_name(const SafetensorsFile& file, const std::string& name) {
  auto legacy = [](std::string n) {  // old TF-converted checkpoints: LayerNorm.gamma / .beta
    auto swap = [&](const std::string& from, const std::string& to) {
      if (n.size() >= from.size() && n.compare(n.size() - from.size(), from.size(), from) == 0) {
        n.replace(n.size() - from.size(), from.size(), to);
      }
    };
    if (n.find("LayerNorm") != std::string::npos) {
      swap(".weight", ".gamma");
      swap(".bias", ".beta");
    }
    return n;
  };
  for (const char* prefix : kWeightPrefixes) {
    for (const std::string& candidate : {prefix + name, prefix + legacy(name)}) {
      if (file.contains(candidate)) return candidate;
    }
  }
  return "";
}

}  // namespace

namespace {
// An I8 parameter (stored under `stored`): its q and scale read and checked, the dequantized
// values written to out.
Int8Tensor read_int8(const SafetensorsFile& file, const ParamSpec& s, const std::string& stored,
                     float* out) {
  const std::string where = file.path().string();
  SBERT_CHECK(s.shape.size() == 2, "[load] ", where, ": tensor '", stored,
              "' is I8 but only a matrix (a linear weight) can be int8");
  const int64_t n = s.shape[0], k = s.shape[1];
  Int8Tensor t;
  t.q = file.read_i8(stored, s.shape);
  const std::string scale_name = stored + "_scale";
  SBERT_CHECK(file.contains(scale_name), "[load] ", where, ": tensor '", stored,
              "' is int8 but its scales '", scale_name, "' are missing");
  t.scale = file.read_f32(scale_name, {n});
  for (int64_t j = 0; j < n; ++j) {
    const float sc = t.scale[static_cast<size_t>(j)];
    SBERT_CHECK(std::isfinite(sc) && sc >= 0.0f, "[load] ", where, ": tensor '", scale_name,
                "' row ", j, " is ", sc, " (a scale is finite and >= 0)");
    for (int64_t i = 0; i < k; ++i) {
      out[j * k + i] = sc * static_cast<float>(t.q[static_cast<size_t>(j * k + i)]);
    }
  }
  return t;
}
}  // namespace

LoadReport load_bert_weights(const SafetensorsFile& file, const ParamLayout& layout, float* base,
                             const Int8Allowed& int8_allowed) {
  LoadReport report;
  std::set<std::string> used;
  for (const ParamSpec& s : layout.specs) {
    const std::string stored = stored_name(file, s.name);
    SBERT_CHECK(!stored.empty(), "[load] ", file.path().string(), ": tensor '", s.name,
                "' is missing");
    for (const char* prefix : kWeightPrefixes) {
      if (*prefix && stored.rfind(prefix, 0) == 0) report.prefix = prefix;
    }
    if (file.info(stored).supported && file.info(stored).dtype == DType::I8) {
      SBERT_CHECK(int8_allowed && int8_allowed(s.name), "[load] ", file.path().string(),
                  ": tensor '", stored,
                  "' is I8, but only the encoder's linear weights can be stored int8");
      report.int8[s.name] = read_int8(file, s, stored, base + s.offset);
      used.insert(stored + "_scale");
    } else {
      file.read_f32_into(stored, base + s.offset, s.shape);
    }
    used.insert(stored);
  }
  for (const std::string& name : file.names()) {
    if (!used.count(name)) report.unused.push_back(name);
  }
  return report;
}

}  // namespace sbert
