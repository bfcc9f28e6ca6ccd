// HF / sentence-transformers folder <-> libsbert checkpoint. Format: io/convert.h and
// docs/convert.md.
#include "io/convert.h"

#include <simdjson.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "api/model_impl.h"
#include "core/check.h"
#include "core/json.h"
#include "core/json_read.h"
#include "core/json_write.h"
#include "io/atomic_file.h"
#include "io/model_writer.h"
#include "io/safetensors.h"
#include "tokenizer/json_util.h"
#include "train/checkpoint.h"

namespace sbert {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4)

namespace {

class Sha256 {
 public:
  void update(const uint8_t* p, size_t n) {
    total_ += n;
    if (fill_) {
      const size_t take = std::min(n, size_t{64} - fill_);
      std::memcpy(buf_.data() + fill_, p, take);
      fill_ += take;
      p += take;
      n -= take;
      if (fill_ == 64) {
        block(buf_.data());
        fill_ = 0;
      }
    }
    for (; n >= 64; p += 64, n -= 64) block(p);
    if (n) {
      std::memcpy(buf_.data(), p, n);
      fill_ = n;
    }
  }

  std::string hex() {
    const uint64_t bits = total_ * 8;
    const uint8_t one = 0x80, zero = 0;
    update(&one, 1);
    while (fill_ != 56) update(&zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint32_t v : h_) {
      for (int s = 28; s >= 0; s -= 4) out += digits[(v >> s) & 0xf];
    }
    return out;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void block(const uint8_t* p) {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) |
             (uint32_t{p[4 * i + 2]} << 8) | uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }

  std::array<uint32_t, 8> h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> buf_{};
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

}  // namespace

std::string sha256_hex(const void* data, size_t size) {
  Sha256 s;
  s.update(static_cast<const uint8_t*>(data), size);
  return s.hex();
}

std::string sha256_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  SBERT_CHECK(in, "[convert] ", file.string(), ": cannot open for reading");
  Sha256 s;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) s.update(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(n));
  }
  SBERT_CHECK(in.eof(), "[convert] ", file.string(), ": read error");
  return s.hex();
}

// ---------------------------------------------------------------------------------------------
// JSON: parse with simdjson, write pretty (Python's json.dump(indent=n) layout)

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string json_float(float v) { return json_fraction(v); }

// A parsed JSON document that lives as long as the object; pretty text in Python's
// json.dump(indent=n) layout, without a trailing newline.
class Json {
 public:
  static Json parse_text(std::string_view text, const std::string& where) {
    return Json(JsonDocument::from_string(text, where, "convert"));
  }
  static Json parse_file(const fs::path& file) {
    std::string text;
    try {
      text = read_file(file);
    } catch (const Error& e) {
      fail("[convert] ", file.string(), ": cannot read");
    }
    return parse_text(text, file.string());
  }
  element root() const { return doc_.root(); }
  std::optional<simdjson::dom::object> object() const {
    simdjson::dom::object o;
    if (root().get_object().get(o)) return std::nullopt;
    return o;
  }
  std::string pretty_text(int indent) const {
    JsonWriter w(indent);
    write_json(w, root());
    return w.take();
  }

 private:
  explicit Json(JsonDocument d) : doc_(std::move(d)) {}
  JsonDocument doc_;
};

// The members of an object as (key, compact JSON text), in file order.
using Members = std::vector<std::pair<std::string, std::string>>;

Members members_of(const simdjson::dom::object& o) {
  Members m;
  for (const auto kv : o) m.emplace_back(std::string(kv.key), simdjson::minify(kv.value));
  return m;
}

void set_member(Members& m, const std::string& key, std::string value) {
  for (auto& kv : m) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  m.emplace_back(key, std::move(value));
}

std::string compact_object(const Members& m) {
  std::string out = "{";
  for (size_t i = 0; i < m.size(); ++i) {
    if (i) out += ",";
    out += json_quote(m[i].first) + ":" + m[i].second;
  }
  return out + "}";
}

std::string prompts_json(const std::map<std::string, std::string>& prompts) {
  Members m;
  for (const auto& [k, v] : prompts) m.emplace_back(k, json_quote(v));
  return compact_object(m);
}

// Pretty form of compact JSON text built here.
std::string pretty_json(const std::string& compact, int indent) {
  return Json::parse_text(compact, "(generated)").pretty_text(indent);
}

// ---------------------------------------------------------------------------------------------
// What a model folder says about prompts

std::map<std::string, std::string> read_st_prompts(const fs::path& dir) {
  return read_st_config(dir).prompts;
}

// An sbert-finetune checkpoint's config.yaml: model.data.add_prefix with query_prefix /
// passage_prefix means the model was trained with those prefixes, so they are its prompts.
std::map<std::string, std::string> read_finetune_prompts(const fs::path& dir) {
  std::map<std::string, std::string> prompts;
  const fs::path file = dir / "config.yaml";
  if (!fs::exists(file) || !fs::exists(dir / "trainer_state.json")) return prompts;
  try {
    const YAML::Node root = YAML::LoadFile(file.string());
    const YAML::Node data = root["model"]["data"];
    if (data && data["add_prefix"] && data["add_prefix"].as<bool>()) {
      if (data["query_prefix"]) prompts["query"] = data["query_prefix"].as<std::string>();
      if (data["passage_prefix"]) prompts["document"] = data["passage_prefix"].as<std::string>();
    }
  } catch (const YAML::Exception& e) {
    fail("[convert] ", file.string(), ": cannot read the run's configuration (", e.what(), ")");
  }
  return prompts;
}

// ---------------------------------------------------------------------------------------------
// The folder's files

bool has_extension(const fs::path& p, std::initializer_list<const char*> exts) {
  const std::string e = p.extension().string();
  return std::any_of(exts.begin(), exts.end(), [&](const char* x) { return e == x; });
}

// Root files of the source copied byte for byte: configuration, tokenizer, model card. Not the
// files this converter writes itself, nor libsbert's training state, nor other weight formats.
bool copied_verbatim(const fs::path& p) {
  static const char* own[] = {"modules.json", "sentence_bert_config.json",
                              "config_sentence_transformers.json", "libsbert.json",
                              "trainer_state.json"};
  const std::string name = p.filename().string();
  if (name.empty() || name[0] == '.') return false;
  if (std::find(std::begin(own), std::end(own), name) != std::end(own)) return false;
  if (name.find(".safetensors.index") != std::string::npos) return false;
  if (name.find(".tmp.") != std::string::npos) return false;
  return has_extension(p, {".json", ".txt", ".model", ".md"});
}

void copy_source_files(const fs::path& from, const fs::path& to) {
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.is_regular_file() && copied_verbatim(entry.path())) {
      fs::copy_file(entry.path(), to / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
}

std::string bool_text(bool b) { return b ? "true" : "false"; }

// modules.json, 1_Pooling/config.json and 2_Normalize/ in the classic sentence-transformers
// layout (read by every sentence-transformers version since 2.0 and by libsbert), then
// sentence_bert_config.json and config_sentence_transformers.json with the source's other keys.
void write_st_files(const fs::path& src, const fs::path& dst, const ModelConfig& c,
                    const std::map<std::string, std::string>& prompts) {
  std::string modules =
      "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models."
      "Transformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":"
      "\"sentence_transformers.models.Pooling\"}";
  if (c.normalize) {
    modules +=
        ",{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers."
        "models.Normalize\"}";
  }
  modules += "]";
  write_file_atomic(dst / "modules.json", pretty_json(modules, 2));

  fs::create_directories(dst / "1_Pooling");
  const std::string pooling =
      cat("{\"word_embedding_dimension\":", c.hidden_size,
          ",\"pooling_mode_cls_token\":", bool_text(c.pooling == Pooling::CLS),
          ",\"pooling_mode_mean_tokens\":", bool_text(c.pooling == Pooling::Mean),
          ",\"pooling_mode_max_tokens\":false,\"pooling_mode_mean_sqrt_len_tokens\":false}");
  write_file_atomic(dst / "1_Pooling" / "config.json", pretty_json(pooling, 4));
  if (c.normalize) fs::create_directories(dst / "2_Normalize");

  // sentence_bert_config.json: max_seq_length as libsbert read it; do_lower_case false unless
  // the source says otherwise; any other key of the source kept.
  Members sb;
  if (fs::exists(src / "sentence_bert_config.json")) {
    const Json j = Json::parse_file(src / "sentence_bert_config.json");
    const auto o = j.object();
    SBERT_CHECK(o.has_value(), "[convert] ", (src / "sentence_bert_config.json").string(),
                ": top level is not a JSON object");
    sb = members_of(*o);
  }
  set_member(sb, "max_seq_length", std::to_string(c.max_seq_length));
  bool has_lower = false;
  for (const auto& kv : sb) has_lower = has_lower || kv.first == "do_lower_case";
  if (!has_lower) set_member(sb, "do_lower_case", "false");
  write_file_atomic(dst / "sentence_bert_config.json", pretty_json(compact_object(sb), 2));

  write_st_config(src, dst, prompts, read_st_config(src).default_prompt_name);
}

// ---------------------------------------------------------------------------------------------
// libsbert.json

std::string model_json(const ModelConfig& c) {
  return cat("{\"model_type\":", json_quote(c.model_type), ",\"vocab_size\":", c.vocab_size,
             ",\"hidden_size\":", c.hidden_size, ",\"num_hidden_layers\":", c.num_layers,
             ",\"num_attention_heads\":", c.num_heads,
             ",\"intermediate_size\":", c.intermediate_size,
             ",\"max_position_embeddings\":", c.max_position_embeddings,
             ",\"type_vocab_size\":", c.type_vocab_size, ",\"pad_token_id\":", c.pad_token_id,
             ",\"layer_norm_eps\":", json_float(c.layer_norm_eps),
             ",\"hidden_dropout_prob\":", json_float(c.hidden_dropout),
             ",\"attention_probs_dropout_prob\":", json_float(c.attention_dropout),
             ",\"hidden_act\":", json_quote(c.hidden_act), "}");
}

}  // namespace

StConfig read_st_config(const fs::path& dir) {
  StConfig c;
  const fs::path file = dir / "config_sentence_transformers.json";
  if (!fs::exists(file)) return c;
  const Json j = Json::parse_file(file);
  const auto o = j.object();
  SBERT_CHECK(o.has_value(), "[model] ", file.string(), ": top level is not a JSON object");
  simdjson::dom::object p;
  if (!(*o)["prompts"].get_object().get(p)) {
    for (const auto kv : p) {
      std::string_view v;
      if (!kv.value.get_string().get(v)) c.prompts[std::string(kv.key)] = std::string(v);
    }
  }
  std::string_view v;
  if (!(*o)["default_prompt_name"].get_string().get(v)) c.default_prompt_name = v;
  return c;
}

// config_sentence_transformers.json as SentenceTransformer._get_model_config writes it: the
// source's keys (__version__, model_type, ...) kept, "prompts", "default_prompt_name" (null
// unless it names one of the prompts) and "similarity_fn_name" (the source's, else cosine).
void write_st_config(const fs::path& src, const fs::path& dst,
                     const std::map<std::string, std::string>& prompts,
                     const std::string& default_prompt_name) {
  Members st;
  std::string similarity = "\"cosine\"";
  if (fs::exists(src / "config_sentence_transformers.json")) {
    const Json j = Json::parse_file(src / "config_sentence_transformers.json");
    const auto o = j.object();
    SBERT_CHECK(o.has_value(), "[convert] ", (src / "config_sentence_transformers.json").string(),
                ": top level is not a JSON object");
    st = members_of(*o);
    std::string_view v;
    if (!(*o)["similarity_fn_name"].get_string().get(v)) similarity = json_quote(v);
  }
  set_member(st, "prompts", prompts_json(prompts));
  set_member(st, "default_prompt_name",
             prompts.count(default_prompt_name) ? json_quote(default_prompt_name) : "null");
  set_member(st, "similarity_fn_name", similarity);
  write_file_atomic(dst / "config_sentence_transformers.json", pretty_json(compact_object(st), 2));
}

DType parse_precision(const std::string& name) {
  if (name == "32" || name == "fp32" || name == "f32" || name == "float32") return DType::F32;
  if (name == "bf16" || name == "bfloat16") return DType::BF16;
  if (name == "int8") return DType::I8;
  fail("[convert] unknown precision '", name, "' (expected 32, bf16 or int8)");
}

const char* precision_name(DType precision) {
  return precision == DType::BF16 ? "bf16" : precision == DType::I8 ? "int8" : "fp32";
}

std::string to_json(const CheckpointInfo& info) {
  const ModelConfig& c = info.config;
  std::string j = "{";
  j += cat("\"format\":", json_quote(kCheckpointFormat), ",\"version\":", info.version);
  j += cat(",\"precision\":", json_quote(precision_name(info.precision)));
  j += cat(",\"weights\":{\"file\":", json_quote(info.weights_file),
           ",\"sha256\":", json_quote(info.weights_sha256),
           ",\"prefix\":", json_quote(info.weight_prefix), "}");
  j += cat(",\"model\":", model_json(c));
  j += cat(",\"pooling\":", json_quote(to_string(c.pooling)),
           ",\"normalize\":", bool_text(c.normalize), ",\"max_seq_length\":", c.max_seq_length);
  j += cat(",\"prompts\":", prompts_json(info.prompts));
  j += cat(",\"source\":", json_quote(info.source), "}");
  return pretty_json(j, 2) + "\n";
}

bool is_libsbert_checkpoint(const fs::path& dir) {
  return fs::is_regular_file(dir / kCheckpointInfoFile);
}

CheckpointInfo read_checkpoint_info(const fs::path& dir, bool verify_weights) {
  const fs::path file = dir / kCheckpointInfoFile;
  const std::string w = cat("[convert] ", file.string(), ": ");
  SBERT_CHECK(fs::is_regular_file(file), w, "file not found (not a libsbert checkpoint)");
  const Json j = Json::parse_file(file);
  const auto o = j.object();
  SBERT_CHECK(o.has_value(), w, "top level is not a JSON object");
  auto member = [&](simdjson::dom::object obj, const char* key, const char* where) {
    element e;
    SBERT_CHECK(!obj[key].get(e), w, "field '", where, key, "' is missing");
    return e;
  };
  auto str = [&](simdjson::dom::object obj, const char* key, const char* where = "") {
    std::string_view v;
    SBERT_CHECK(!member(obj, key, where).get_string().get(v), w, "field '", where, key,
                "' is not a string");
    return std::string(v);
  };
  auto integer = [&](simdjson::dom::object obj, const char* key, const char* where = "") {
    int64_t v = 0;
    SBERT_CHECK(!member(obj, key, where).get_int64().get(v), w, "field '", where, key,
                "' is not an integer");
    SBERT_CHECK(v >= 0 && v <= 1'000'000'000, w, "field '", where, key, "' is ", v,
                ", out of range");
    return static_cast<int>(v);
  };
  auto number = [&](simdjson::dom::object obj, const char* key, const char* where = "") {
    const element e = member(obj, key, where);
    double v = 0;
    if (e.is_int64()) return static_cast<double>(e.get_int64().value_unsafe());
    SBERT_CHECK(!e.get_double().get(v), w, "field '", where, key, "' is not a number");
    return v;
  };
  auto boolean = [&](simdjson::dom::object obj, const char* key, const char* where = "") {
    bool v = false;
    SBERT_CHECK(!member(obj, key, where).get_bool().get(v), w, "field '", where, key,
                "' is not true or false");
    return v;
  };
  auto object = [&](simdjson::dom::object obj, const char* key) {
    simdjson::dom::object v;
    SBERT_CHECK(!member(obj, key, "").get_object().get(v), w, "field '", key, "' is not an object");
    return v;
  };

  SBERT_CHECK(str(*o, "format") == kCheckpointFormat, w, "format is '", str(*o, "format"),
              "', expected '", kCheckpointFormat, "'");
  CheckpointInfo info;
  info.version = integer(*o, "version");
  SBERT_CHECK(info.version >= 1 && info.version <= kCheckpointVersion, w, "version ", info.version,
              " is not supported (this libsbert reads version ", kCheckpointVersion,
              "; a newer libsbert wrote it?)");
  info.precision = parse_precision(str(*o, "precision"));
  const auto weights = object(*o, "weights");
  info.weights_file = str(weights, "file", "weights.");
  SBERT_CHECK(!info.weights_file.empty() && info.weights_file.find('/') == std::string::npos &&
                  info.weights_file != "..",
              w, "field 'weights.file' is '", info.weights_file, "', expected a file name");
  info.weights_sha256 = str(weights, "sha256", "weights.");
  info.weight_prefix = str(weights, "prefix", "weights.");
  const auto m = object(*o, "model");
  ModelConfig& c = info.config;
  c.model_type = str(m, "model_type", "model.");
  c.vocab_size = integer(m, "vocab_size", "model.");
  c.hidden_size = integer(m, "hidden_size", "model.");
  c.num_layers = integer(m, "num_hidden_layers", "model.");
  c.num_heads = integer(m, "num_attention_heads", "model.");
  c.intermediate_size = integer(m, "intermediate_size", "model.");
  c.max_position_embeddings = integer(m, "max_position_embeddings", "model.");
  c.type_vocab_size = integer(m, "type_vocab_size", "model.");
  c.pad_token_id = integer(m, "pad_token_id", "model.");
  c.layer_norm_eps = static_cast<float>(number(m, "layer_norm_eps", "model."));
  c.hidden_dropout = static_cast<float>(number(m, "hidden_dropout_prob", "model."));
  c.attention_dropout = static_cast<float>(number(m, "attention_probs_dropout_prob", "model."));
  c.hidden_act = str(m, "hidden_act", "model.");
  const std::string pooling = str(*o, "pooling");
  SBERT_CHECK(pooling == "mean" || pooling == "cls", w, "pooling is '", pooling,
              "', expected mean or cls");
  c.pooling = pooling == "cls" ? Pooling::CLS : Pooling::Mean;
  c.normalize = boolean(*o, "normalize");
  c.max_seq_length = integer(*o, "max_seq_length");
  for (const auto kv : object(*o, "prompts")) {
    std::string_view v;
    SBERT_CHECK(!kv.value.get_string().get(v), w, "prompt '", kv.key, "' is not a string");
    info.prompts[std::string(kv.key)] = std::string(v);
  }
  info.source = str(*o, "source");

  if (verify_weights) {
    const fs::path wf = dir / info.weights_file;
    SBERT_CHECK(fs::is_regular_file(wf), "[convert] ", wf.string(), ": file not found");
    const std::string got = sha256_file(wf);
    SBERT_CHECK(got == info.weights_sha256, "[convert] ", wf.string(), ": sha256 ", got,
                " does not match libsbert.json (", info.weights_sha256,
                "): the weights were changed or damaged after conversion");
  }
  return info;
}

void check_checkpoint_config(const fs::path& dir, const CheckpointInfo& info,
                             const ModelConfig& loaded) {
  const ModelConfig& a = info.config;
  const std::string w = cat("[convert] ", (dir / kCheckpointInfoFile).string(), ": ");
  auto same = [&](const char* what, const auto& recorded, const auto& read) {
    SBERT_CHECK(recorded == read, w, what, " is ", recorded, " but the folder's files say ", read,
                " (edited after conversion?)");
  };
  same("model_type", a.model_type, loaded.model_type);
  same("vocab_size", a.vocab_size, loaded.vocab_size);
  same("hidden_size", a.hidden_size, loaded.hidden_size);
  same("num_hidden_layers", a.num_layers, loaded.num_layers);
  same("num_attention_heads", a.num_heads, loaded.num_heads);
  same("intermediate_size", a.intermediate_size, loaded.intermediate_size);
  same("max_position_embeddings", a.max_position_embeddings, loaded.max_position_embeddings);
  same("type_vocab_size", a.type_vocab_size, loaded.type_vocab_size);
  same("pad_token_id", a.pad_token_id, loaded.pad_token_id);
  same("layer_norm_eps", a.layer_norm_eps, loaded.layer_norm_eps);
  same("hidden_act", a.hidden_act, loaded.hidden_act);
  same("pooling", std::string(to_string(a.pooling)), std::string(to_string(loaded.pooling)));
  same("normalize", bool_text(a.normalize), bool_text(loaded.normalize));
  same("max_seq_length", a.max_seq_length, loaded.max_seq_length);
}

fs::path resolve_model_input(const fs::path& input) {
  SBERT_CHECK(!input.empty(), "[convert] no input folder given");
  SBERT_CHECK(fs::exists(input), "[convert] ", input.string(), ": no such folder");
  return resolve_model_path(input);
}

namespace {

// Refuses outputs whose replacement would lose something: the input itself or a folder holding
// it, a file, or a non-empty folder that is not a model folder.
void check_output(const fs::path& input, const fs::path& output) {
  SBERT_CHECK(!output.empty(), "[convert] no output folder given");
  const fs::path in = fs::weakly_canonical(fs::absolute(input));
  const fs::path out = fs::weakly_canonical(fs::absolute(output));
  SBERT_CHECK(in != out, "[convert] ", output.string(), ": the output is the input folder");
  const std::string in_s = in.string(), out_s = out.string() + "/";
  SBERT_CHECK(in_s.compare(0, out_s.size(), out_s) != 0, "[convert] ", output.string(),
              ": the output folder holds the input (", input.string(), "); refusing to replace it");
  if (!fs::exists(output)) return;
  SBERT_CHECK(fs::is_directory(output), "[convert] ", output.string(),
              ": exists and is not a folder; refusing to replace it");
  const bool empty = fs::directory_iterator(output) == fs::directory_iterator();
  const bool model = fs::exists(output / "model.safetensors") ||
                     fs::exists(output / kCheckpointInfoFile) || fs::exists(output / "config.json");
  SBERT_CHECK(empty || model, "[convert] ", output.string(),
              ": exists and is not a model folder; refusing to replace it");
}

enum class Target { Checkpoint, HuggingFace };

ConvertReport convert(const fs::path& input_arg, const fs::path& output_arg,
                      const ConvertOptions& opt, Target target) {
  SBERT_CHECK(opt.precision == DType::F32 || opt.precision == DType::BF16 ||
                  (opt.precision == DType::I8 && target == Target::Checkpoint),
              "[convert] precision must be fp32 or bf16",
              target == Target::Checkpoint ? ", or int8" : " for a Hugging Face folder");
  SBERT_CHECK(!output_arg.empty(), "[convert] no output folder given");
  const fs::path input = resolve_model_input(input_arg);
  // "out/", "./out", "a/../out": one absolute name, so that "<output>.tmp.<pid>" is a sibling.
  fs::path output = fs::weakly_canonical(fs::absolute(output_arg));
  while (!output.has_filename() && output.has_relative_path()) output = output.parent_path();
  SBERT_CHECK(output.has_relative_path(), "[convert] ", output_arg.string(),
              ": cannot write the output there");
  check_output(input, output);

  // Five coarse steps; the weights' write and checksum are the slow ones on a large model.
  // The first report comes once the input is loaded and checked, so that bad input still
  // gets a one-line error and nothing else.
  constexpr int64_t kSteps = 5;
  const auto step = [&](int64_t done) {
    if (opt.progress) opt.progress({"convert", done, kSteps});
  };
  const Model model = Model::load(input);
  const Model::Impl& impl = model.impl();
  SBERT_CHECK(impl.quantization != Quantize::Int8 || opt.precision == DType::I8, "[convert] ",
              input.string(),
              " holds int8 weights (sbert-convert --quantize int8): it converts only to another "
              "int8 checkpoint; convert the fp32 model it was made from");

  // Prompts: the source's sentence-transformers config, an sbert-finetune run's prefixes, a
  // libsbert checkpoint's record (which wins), then the options.
  std::map<std::string, std::string> prompts = read_st_prompts(input);
  for (const auto& [k, v] : read_finetune_prompts(input)) prompts[k] = v;
  if (is_libsbert_checkpoint(input)) {
    const CheckpointInfo info = read_checkpoint_info(input, /*verify_weights=*/true);
    check_checkpoint_config(input, info, impl.config);
    prompts = info.prompts;
  }
  if (opt.query_prompt) prompts["query"] = *opt.query_prompt;
  if (opt.passage_prompt) prompts["passage"] = *opt.passage_prompt;

  step(1);  // loaded and checked
  if (!output.parent_path().empty()) fs::create_directories(output.parent_path());
  fs::path tmp = output;
  tmp += cat(".tmp.", static_cast<long>(::getpid()));
  fs::remove_all(tmp);
  ConvertReport report;
  try {
    fs::create_directories(tmp);
    copy_source_files(input, tmp);
    step(2);
    write_model_weights(impl, impl.weights.data(), tmp / "model.safetensors", opt.precision);
    write_st_files(input, tmp, impl.config, prompts);
    step(3);
    report.sha256 = sha256_file(tmp / "model.safetensors");
    step(4);
    if (target == Target::Checkpoint) {
      CheckpointInfo info;
      info.precision = opt.precision;
      info.config = impl.config;
      info.prompts = prompts;
      info.source = fs::weakly_canonical(fs::absolute(input)).string();
      info.weights_sha256 = report.sha256;
      info.weight_prefix = impl.weight_prefix;
      write_file_atomic(tmp / kCheckpointInfoFile, to_json(info));
    }
    commit_folder(tmp, output);
    step(kSteps);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  report.input = input;
  report.output = output;
  report.precision = opt.precision;
  report.tensors = static_cast<int64_t>(impl.layout.specs.size() + impl.extras.size());
  if (opt.precision == DType::I8) report.tensors += 6 * impl.config.num_layers;  // the scales
  report.parameters = impl.layout.total;
  report.prompts = prompts;
  report.config = impl.config;
  return report;
}

}  // namespace

ConvertReport convert_to_checkpoint(const fs::path& input, const fs::path& output,
                                    const ConvertOptions& options) {
  return convert(input, output, options, Target::Checkpoint);
}

ConvertReport export_to_hf(const fs::path& input, const fs::path& output,
                           const ConvertOptions& options) {
  return convert(input, output, options, Target::HuggingFace);
}

}  // namespace sbert
