// load_model_config(): Hugging Face config.json plus the sentence-transformers files beside it.
// See docs/formats.md for the key -> field table and what is rejected.
#include <simdjson.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "core/json_read.h"
#include "io/atomic_file.h"
#include "sbert/config.h"

namespace sbert {

const char* to_string(Pooling p) {
  switch (p) {
    case Pooling::Mean:
      return "mean";
    case Pooling::CLS:
      return "cls";
  }
  return "?";
}

namespace {

// One parsed JSON file whose root must be an object (or, for modules.json, an array), with
// typed field accessors whose errors name the file and the field (core/json_read.h).
class JsonFile {
 public:
  explicit JsonFile(const std::filesystem::path& path) : reader_("config", path.string()) {
    std::string text;
    try {
      text = read_file(path);
    } catch (const Error& e) {
      std::string m = e.what();
      const std::string io = "[io] ";
      if (m.compare(0, io.size(), io) == 0) m = m.substr(io.size());
      fail("[config] ", m);
    }
    doc_.emplace(JsonDocument::from_string(text, path.string(), "config"));
    root_ = doc_->root();
  }
  JsonFile(const JsonFile&) = delete;
  JsonFile& operator=(const JsonFile&) = delete;

  std::string where() const { return reader_.where(); }
  simdjson::dom::element root() const { return root_; }

  simdjson::dom::object root_object() const {
    simdjson::dom::object o;
    SBERT_CHECK(root_.get_object().get(o) == simdjson::SUCCESS, where(), "top level is ",
                json_type_name(root_), ", expected a JSON object");
    return o;
  }

  static std::optional<simdjson::dom::element> find(simdjson::dom::object o, std::string_view key) {
    simdjson::dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
    return e;
  }

  [[noreturn]] void bad_type(std::string_view key, simdjson::dom::element e,
                             const char* expected) const {
    reader_.type_error(key, e, expected);
  }

  std::optional<int64_t> get_int(simdjson::dom::object o, std::string_view key) const {
    auto e = find(o, key);
    if (!e) return std::nullopt;
    return reader_.integer(*e, key, std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max());
  }
  int required_int(simdjson::dom::object o, std::string_view key) const {
    auto v = get_int(o, key);
    SBERT_CHECK(v.has_value(), where(), "missing required field '", key, "'");
    return positive_int(key, *v);
  }
  int optional_positive_int(simdjson::dom::object o, std::string_view key, int def) const {
    auto v = get_int(o, key);
    return v ? positive_int(key, *v) : def;
  }
  int positive_int(std::string_view key, int64_t v) const {
    SBERT_CHECK(v > 0 && v <= std::numeric_limits<int>::max(), where(), "field '", key, "' is ", v,
                ", expected a positive integer that fits in int");
    return static_cast<int>(v);
  }

  std::optional<double> get_number(simdjson::dom::object o, std::string_view key) const {
    auto e = find(o, key);
    if (!e) return std::nullopt;
    return reader_.number(*e, key);
  }

  std::optional<std::string> get_string(simdjson::dom::object o, std::string_view key) const {
    auto e = find(o, key);
    if (!e) return std::nullopt;
    std::string_view v;
    if (e->get_string().get(v) != simdjson::SUCCESS) bad_type(key, *e, "a string");
    return std::string(v);
  }

  std::optional<bool> get_bool(simdjson::dom::object o, std::string_view key) const {
    auto e = find(o, key);
    if (!e) return std::nullopt;
    bool v = false;
    if (e->get_bool().get(v) != simdjson::SUCCESS) bad_type(key, *e, "true or false");
    return v;
  }

 private:
  JsonReader reader_;
  std::optional<JsonDocument> doc_;
  simdjson::dom::element root_;
};

void read_hf_config(const std::filesystem::path& file, ModelConfig& c) {
  JsonFile j(file);
  const auto o = j.root_object();
  const std::string w = j.where();

  auto model_type = j.get_string(o, "model_type");
  SBERT_CHECK(model_type.has_value(), w, "missing required field 'model_type'");
  SBERT_CHECK(*model_type == "bert" || *model_type == "roberta" || *model_type == "xlm-roberta", w,
              "model_type '", *model_type,
              "' is not supported (supported: bert, roberta, xlm-roberta)");
  c.model_type = *model_type;

  c.vocab_size = j.required_int(o, "vocab_size");
  c.hidden_size = j.required_int(o, "hidden_size");
  c.num_layers = j.required_int(o, "num_hidden_layers");
  c.num_heads = j.required_int(o, "num_attention_heads");
  c.intermediate_size = j.required_int(o, "intermediate_size");
  c.max_position_embeddings = j.required_int(o, "max_position_embeddings");
  c.type_vocab_size = j.optional_positive_int(o, "type_vocab_size", 2);
  SBERT_CHECK(c.hidden_size % c.num_heads == 0, w, "hidden_size ", c.hidden_size,
              " is not divisible by num_attention_heads ", c.num_heads);

  // pad_token_id: null (some configs) keeps transformers' default, 0 for BERT and 1 for the
  // RoBERTa family (RobertaConfig, XLMRobertaConfig).
  if (auto e = JsonFile::find(o, "pad_token_id"); e && !e->is_null()) {
    const int64_t pad = *j.get_int(o, "pad_token_id");
    SBERT_CHECK(pad >= 0 && pad < c.vocab_size, w, "field 'pad_token_id' is ", pad,
                ", expected 0 <= pad_token_id < vocab_size ", c.vocab_size);
    c.pad_token_id = static_cast<int>(pad);
  } else {
    c.pad_token_id = c.roberta_positions() ? 1 : 0;
  }
  // RoBERTa's positions start at pad_token_id + 1: the table must hold at least one more.
  SBERT_CHECK(c.max_tokens() >= 1, w, "field 'max_position_embeddings' is ",
              c.max_position_embeddings, " but ", c.model_type,
              " positions start at pad_token_id + 1 = ", c.first_position(),
              ", leaving no position for a token");

  if (auto eps = j.get_number(o, "layer_norm_eps")) {
    SBERT_CHECK(std::isfinite(*eps) && *eps > 0 && *eps < 1, w, "field 'layer_norm_eps' is ", *eps,
                ", expected a small positive number");
    c.layer_norm_eps = static_cast<float>(*eps);
  }
  auto dropout = [&](std::string_view key, float* out) {
    if (auto p = j.get_number(o, key)) {
      SBERT_CHECK(*p >= 0 && *p < 1, w, "field '", key, "' is ", *p, ", expected 0 <= p < 1");
      *out = static_cast<float>(*p);
    }
  };
  dropout("hidden_dropout_prob", &c.hidden_dropout);
  dropout("attention_probs_dropout_prob", &c.attention_dropout);

  if (auto act = j.get_string(o, "hidden_act")) {
    SBERT_CHECK(*act == "gelu", w, "field 'hidden_act' is '", *act,
                "', which is not supported (supported: gelu, the exact erf GELU)");
    c.hidden_act = *act;
  }
  if (auto pos = j.get_string(o, "position_embedding_type")) {
    SBERT_CHECK(*pos == "absolute", w, "field 'position_embedding_type' is '", *pos,
                "', which is not supported (supported: absolute)");
  }
  if (auto dec = j.get_bool(o, "is_decoder")) {
    SBERT_CHECK(!*dec, w, "field 'is_decoder' is true; only encoders are supported");
  }
}

enum class ModuleKind { Transformer, Pooling, Normalize };

struct Module {
  ModuleKind kind;
  std::string path;
};

// modules.json: [{"idx": 0, "name": "0", "path": "", "type":
// "sentence_transformers.models.Transformer"}, ...] Type names are matched on their last component
// so that both the classic "sentence_transformers.models.Pooling" and the newer
// "sentence_transformers.sentence_transformer.modules.pooling.Pooling" are understood.
std::vector<Module> read_modules(const std::filesystem::path& file) {
  JsonFile j(file);
  const std::string w = j.where();
  simdjson::dom::array arr;
  SBERT_CHECK(j.root().get_array().get(arr) == simdjson::SUCCESS, w, "top level is ",
              json_type_name(j.root()), ", expected a JSON array of modules");
  std::vector<Module> out;
  size_t i = 0;
  for (simdjson::dom::element e : arr) {
    simdjson::dom::object o;
    SBERT_CHECK(e.get_object().get(o) == simdjson::SUCCESS, w, "module ", i, " is ",
                json_type_name(e), ", expected an object");
    auto type = j.get_string(o, "type");
    SBERT_CHECK(type.has_value(), w, "module ", i, " has no field 'type'");
    auto path = j.get_string(o, "path");
    const std::string prefix = "sentence_transformers.";
    const std::string cls = type->substr(type->rfind('.') + 1);
    Module m{ModuleKind::Transformer, path.value_or("")};
    if (type->compare(0, prefix.size(), prefix) == 0 && cls == "Transformer") {
      m.kind = ModuleKind::Transformer;
    } else if (type->compare(0, prefix.size(), prefix) == 0 && cls == "Pooling") {
      m.kind = ModuleKind::Pooling;
    } else if (type->compare(0, prefix.size(), prefix) == 0 && cls == "Normalize") {
      m.kind = ModuleKind::Normalize;
    } else {
      fail(w, "module ", i, " type '", *type, "' (path '", path.value_or(""),
           "') is not supported (supported: Transformer, Pooling, Normalize)");
    }
    if (m.kind != ModuleKind::Normalize) {
      SBERT_CHECK(path.has_value(), w, "module ", i, " (", *type, ") has no field 'path'");
    }
    out.push_back(m);
    ++i;
  }

  // The one pipeline libsbert runs: Transformer, Pooling, then optionally Normalize.
  static constexpr const char* names[] = {"Transformer", "Pooling", "Normalize"};
  std::string got;
  for (const Module& m : out) got += cat(got.empty() ? "" : ", ", names[static_cast<int>(m.kind)]);
  const bool ok = (out.size() == 2 || out.size() == 3) && out[0].kind == ModuleKind::Transformer &&
                  out[1].kind == ModuleKind::Pooling &&
                  (out.size() == 2 || out[2].kind == ModuleKind::Normalize);
  SBERT_CHECK(ok, w, "modules are [", got,
              "]; supported pipelines are [Transformer, Pooling] and [Transformer, Pooling, "
              "Normalize]");
  SBERT_CHECK(out[0].path.empty() || out[0].path == ".", w, "Transformer module path '",
              out[0].path,
              "' is not supported (the model files must be in the folder itself, path '')");
  return out;
}

// 1_Pooling/config.json, either the classic form
//   {"word_embedding_dimension": 384, "pooling_mode_cls_token": false,
//    "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, ...}
// or the sentence-transformers >= 5 form {"embedding_dimension": 384, "pooling_mode": "mean"}.
Pooling read_pooling(const std::filesystem::path& file, const ModelConfig& c) {
  JsonFile j(file);
  const auto o = j.root_object();
  const std::string w = j.where();

  for (const char* key : {"word_embedding_dimension", "embedding_dimension"}) {
    if (auto d = j.get_int(o, key)) {
      SBERT_CHECK(*d == c.hidden_size, w, "field '", key, "' is ", *d,
                  " but the model's hidden_size is ", c.hidden_size);
    }
  }

  if (auto e = JsonFile::find(o, "pooling_mode")) {
    // As sentence-transformers: "pooling_mode" wins over the legacy booleans.
    std::string_view mode;
    simdjson::dom::array list;
    if (e->get_array().get(list) == simdjson::SUCCESS && list.size() == 1) {
      if (list.at(0).get_string().get(mode) != simdjson::SUCCESS) {
        j.bad_type("pooling_mode", *e, "\"mean\" or \"cls\"");
      }
    } else if (e->get_string().get(mode) != simdjson::SUCCESS) {
      j.bad_type("pooling_mode", *e, "\"mean\" or \"cls\"");
    }
    if (mode == "mean") return Pooling::Mean;
    if (mode == "cls") return Pooling::CLS;
    fail(w, "field 'pooling_mode' is '", mode, "', which is not supported (supported: mean, cls)");
  }

  // Legacy booleans; absent ones take sentence-transformers' defaults (mean on, the rest off).
  const bool mean = j.get_bool(o, "pooling_mode_mean_tokens").value_or(true);
  const bool cls = j.get_bool(o, "pooling_mode_cls_token").value_or(false);
  for (const char* key : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                          "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    SBERT_CHECK(!j.get_bool(o, key).value_or(false), w, "field '", key,
                "' is true, which is not supported (supported: pooling_mode_mean_tokens or "
                "pooling_mode_cls_token)");
  }
  SBERT_CHECK(mean != cls, w, "fields 'pooling_mode_mean_tokens' (", mean ? "true" : "false",
              ") and 'pooling_mode_cls_token' (", cls ? "true" : "false",
              "): exactly one must be true");
  return mean ? Pooling::Mean : Pooling::CLS;
}

// max_seq_length: sentence_bert_config.json "max_seq_length", else tokenizer_config.json
// "model_max_length" capped at the positions the model holds (where sentence-transformers >= 5
// keeps it), else min(512, positions). The positions are max_tokens(): max_position_embeddings
// for BERT, max_position_embeddings - pad_token_id - 1 for the RoBERTa family (512 of XLM-R's
// 514: sentence-transformers caps at 514, and transformers then fails on a 513-token input).
int read_max_seq_length(const std::filesystem::path& dir, const ModelConfig& c) {
  const auto sb = dir / "sentence_bert_config.json";
  if (std::filesystem::exists(sb)) {
    JsonFile j(sb);
    const auto o = j.root_object();
    if (auto e = JsonFile::find(o, "max_seq_length"); e && !e->is_null()) {
      const int64_t v = *j.get_int(o, "max_seq_length");
      SBERT_CHECK(v > 0 && v <= c.max_tokens(), j.where(), "field 'max_seq_length' is ", v,
                  c.first_position() == 0
                      ? cat(", expected 1..max_position_embeddings (", c.max_tokens(), ")")
                      : cat(", expected 1..", c.max_tokens(), " (max_position_embeddings ",
                            c.max_position_embeddings, " less the first position ",
                            c.first_position(), ")"));
      return static_cast<int>(v);
    }
  }
  const auto tc = dir / "tokenizer_config.json";
  if (std::filesystem::exists(tc)) {
    JsonFile j(tc);
    const auto o = j.root_object();
    if (auto e = JsonFile::find(o, "model_max_length"); e && !e->is_null()) {
      const double v = *j.get_number(o, "model_max_length");
      SBERT_CHECK(v >= 1, j.where(), "field 'model_max_length' is ", v, ", expected >= 1");
      return v >= c.max_tokens() ? c.max_tokens() : static_cast<int>(v);
    }
  }
  return std::min(512, c.max_tokens());
}

}  // namespace

ModelConfig load_model_config(const std::filesystem::path& dir) {
  ModelConfig c;
  // modules.json first: a layout libsbert cannot run (e.g. the Transformer in a subfolder) is
  // reported as such rather than as a missing config.json.
  std::vector<Module> modules;
  const auto modules_file = dir / "modules.json";
  const bool have_modules = std::filesystem::exists(modules_file);
  if (have_modules) modules = read_modules(modules_file);

  read_hf_config(dir / "config.json", c);

  c.pooling = Pooling::Mean;
  c.normalize = false;
  for (const Module& m : modules) {
    if (m.kind == ModuleKind::Pooling) c.pooling = read_pooling(dir / m.path / "config.json", c);
    if (m.kind == ModuleKind::Normalize) c.normalize = true;
  }
  c.max_seq_length = read_max_seq_length(dir, c);
  return c;
}

}  // namespace sbert
