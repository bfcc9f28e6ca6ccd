// load_model_config(): Hugging Face config.json plus sentence-transformers files, and the errors
// for everything libsbert does not run.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "sbert/config.h"
#include "sbert/error.h"

namespace fs = std::filesystem;
using namespace sbert;
using Catch::Contains;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() /
           ("sbert_test_io_config_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
  std::string file(const std::string& rel) const { return (path / rel).string(); }
  void put(const std::string& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    write_file_atomic(path / rel, text);
  }
};

// A JSON object whose fields (raw JSON values, in order) can be replaced or removed.
struct Json {
  std::vector<std::pair<std::string, std::string>> fields;
  Json& set(const std::string& key, const std::string& raw) {
    for (auto& [k, v] : fields) {
      if (k == key) {
        v = raw;
        return *this;
      }
    }
    fields.emplace_back(key, raw);
    return *this;
  }
  Json& erase(const std::string& key) {
    std::erase_if(fields, [&](const auto& kv) { return kv.first == key; });
    return *this;
  }
  std::string str() const {
    std::string s = "{\n";
    for (size_t i = 0; i < fields.size(); ++i) {
      s += "  \"" + fields[i].first + "\": " + fields[i].second +
           (i + 1 < fields.size() ? ",\n" : "\n");
    }
    return s + "}\n";
  }
};

// config.json of sentence-transformers/all-MiniLM-L6-v2, as published.
Json minilm_config() {
  return Json{{
      {"_name_or_path", "\"nreimers/MiniLM-L6-H384-uncased\""},
      {"architectures", "[\"BertModel\"]"},
      {"attention_probs_dropout_prob", "0.1"},
      {"gradient_checkpointing", "false"},
      {"hidden_act", "\"gelu\""},
      {"hidden_dropout_prob", "0.1"},
      {"hidden_size", "384"},
      {"initializer_range", "0.02"},
      {"intermediate_size", "1536"},
      {"layer_norm_eps", "1e-12"},
      {"max_position_embeddings", "512"},
      {"model_type", "\"bert\""},
      {"num_attention_heads", "12"},
      {"num_hidden_layers", "6"},
      {"pad_token_id", "0"},
      {"position_embedding_type", "\"absolute\""},
      {"transformers_version", "\"4.8.2\""},
      {"type_vocab_size", "2"},
      {"use_cache", "true"},
      {"vocab_size", "30522"},
  }};
}

const char* kClassicModules = R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
])";

Json classic_pooling() {
  return Json{{
      {"word_embedding_dimension", "384"},
      {"pooling_mode_cls_token", "false"},
      {"pooling_mode_mean_tokens", "true"},
      {"pooling_mode_max_tokens", "false"},
      {"pooling_mode_mean_sqrt_len_tokens", "false"},
      {"pooling_mode_weightedmean_tokens", "false"},
      {"pooling_mode_lasttoken", "false"},
      {"include_prompt", "true"},
  }};
}

// The all-MiniLM-L6-v2 folder: Transformer, mean Pooling, Normalize, max_seq_length 256.
void write_minilm(const TempDir& dir) {
  dir.put("config.json", minilm_config().str());
  dir.put("modules.json", kClassicModules);
  dir.put("1_Pooling/config.json", classic_pooling().str());
  dir.put("sentence_bert_config.json", R"({"max_seq_length": 256, "do_lower_case": false})");
  dir.put("tokenizer_config.json", R"({"do_lower_case": true, "model_max_length": 512})");
}

}  // namespace

TEST_CASE("config: to_string(Pooling)", "[io]") {
  CHECK(std::string(to_string(Pooling::Mean)) == "mean");
  CHECK(std::string(to_string(Pooling::CLS)) == "cls");
}

TEST_CASE("config: an all-MiniLM-L6-v2 style sentence-transformers folder", "[io]") {
  TempDir dir;
  write_minilm(dir);
  fs::create_directories(dir / "2_Normalize");
  const ModelConfig c = load_model_config(dir.path);
  CHECK(c.model_type == "bert");
  CHECK(c.vocab_size == 30522);
  CHECK(c.hidden_size == 384);
  CHECK(c.num_layers == 6);
  CHECK(c.num_heads == 12);
  CHECK(c.head_dim() == 32);
  CHECK(c.intermediate_size == 1536);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.pad_token_id == 0);
  CHECK(c.layer_norm_eps == 1e-12f);
  CHECK(c.hidden_dropout == 0.1f);
  CHECK(c.attention_dropout == 0.1f);
  CHECK(c.hidden_act == "gelu");
  CHECK(c.pooling == Pooling::Mean);
  CHECK(c.normalize);
  CHECK(c.max_seq_length == 256);
}

TEST_CASE("config: a plain Hugging Face folder maps every field - mean pooling, no normalize",
          "[io]") {
  TempDir dir;
  dir.put("config.json", minilm_config()
                             .set("vocab_size", "1000")
                             .set("hidden_size", "64")
                             .set("num_hidden_layers", "3")
                             .set("num_attention_heads", "4")
                             .set("intermediate_size", "256")
                             .set("max_position_embeddings", "128")
                             .set("type_vocab_size", "1")
                             .set("pad_token_id", "3")
                             .set("layer_norm_eps", "1e-05")
                             .set("hidden_dropout_prob", "0.2")
                             .set("attention_probs_dropout_prob", "0")
                             .str());
  const ModelConfig c = load_model_config(dir.path);
  CHECK(c.vocab_size == 1000);
  CHECK(c.hidden_size == 64);
  CHECK(c.num_layers == 3);
  CHECK(c.num_heads == 4);
  CHECK(c.head_dim() == 16);
  CHECK(c.intermediate_size == 256);
  CHECK(c.max_position_embeddings == 128);
  CHECK(c.type_vocab_size == 1);
  CHECK(c.pad_token_id == 3);
  CHECK(c.layer_norm_eps == 1e-5f);
  CHECK(c.hidden_dropout == 0.2f);
  CHECK(c.attention_dropout == 0.0f);
  CHECK(c.pooling == Pooling::Mean);
  CHECK_FALSE(c.normalize);
  CHECK(c.max_seq_length == 128);  // min(512, max_position_embeddings)

  dir.put("config.json", minilm_config().set("max_position_embeddings", "1024").str());
  CHECK(load_model_config(dir.path).max_seq_length == 512);
}

TEST_CASE("config: optional fields take BERT's defaults - unknown fields are ignored", "[io]") {
  TempDir dir;
  dir.put("config.json", minilm_config()
                             .erase("type_vocab_size")
                             .erase("layer_norm_eps")
                             .erase("hidden_dropout_prob")
                             .erase("attention_probs_dropout_prob")
                             .erase("hidden_act")
                             .erase("position_embedding_type")
                             .set("pad_token_id", "null")
                             .set("dtype", "\"float32\"")
                             .set("id2label", "{\"0\": \"LABEL_0\"}")
                             .set("is_decoder", "false")
                             .set("bos_token_id", "null")
                             .str());
  const ModelConfig c = load_model_config(dir.path);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.pad_token_id == 0);
  CHECK(c.layer_norm_eps == 1e-12f);
  CHECK(c.hidden_dropout == 0.1f);
  CHECK(c.attention_dropout == 0.1f);
  CHECK(c.hidden_act == "gelu");
}

TEST_CASE("config: the sentence-transformers >= 5 layout (new type names, pooling_mode)", "[io]") {
  // As written by SentenceTransformer.save() in sentence-transformers 6.2 (a CLS model).
  TempDir dir;
  dir.put("config.json", minilm_config().str());
  dir.put("modules.json", R"([
  {"idx": 0, "name": "0", "path": "",
   "type": "sentence_transformers.base.modules.transformer.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling",
   "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize",
   "type": "sentence_transformers.base.modules.normalize.Normalize"}
])");
  dir.put("1_Pooling/config.json",
          R"({"embedding_dimension": 384, "pooling_mode": "cls", "include_prompt": true})");
  dir.put(
      "2_Normalize/config.json",
      R"({"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})");
  dir.put("sentence_bert_config.json", R"({
    "transformer_task": "feature-extraction",
    "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
    "module_output_name": "token_embeddings"
})");
  dir.put("tokenizer_config.json", R"({"do_lower_case": true, "model_max_length": 32})");
  ModelConfig c = load_model_config(dir.path);
  CHECK(c.pooling == Pooling::CLS);
  CHECK(c.normalize);
  CHECK(c.max_seq_length == 32);  // tokenizer_config.json model_max_length

  dir.put("1_Pooling/config.json", R"({"embedding_dimension": 384, "pooling_mode": ["mean"]})");
  c = load_model_config(dir.path);
  CHECK(c.pooling == Pooling::Mean);
}

TEST_CASE("config: where max_seq_length comes from", "[io]") {
  TempDir dir;
  write_minilm(dir);
  CHECK(load_model_config(dir.path).max_seq_length == 256);  // sentence_bert_config.json

  dir.put("sentence_bert_config.json", R"({"max_seq_length": null})");
  dir.put("tokenizer_config.json", R"({"model_max_length": 200})");
  CHECK(load_model_config(dir.path).max_seq_length == 200);  // tokenizer_config.json

  // Hugging Face's "no limit" value, an integer beyond 64 bits, is capped at the positions.
  dir.put(
      "tokenizer_config.json",
      R"({"model_max_length": 1000000000000000019884624838656, "x": "123456789012345678901234"})");
  CHECK(load_model_config(dir.path).max_seq_length == 512);

  fs::remove(dir / "tokenizer_config.json");
  fs::remove(dir / "sentence_bert_config.json");
  CHECK(load_model_config(dir.path).max_seq_length == 512);  // min(512, max_position_embeddings)
}

TEST_CASE("config: CLS pooling without normalization (classic booleans)", "[io]") {
  TempDir dir;
  write_minilm(dir);
  dir.put("modules.json", R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
])");
  dir.put("1_Pooling/config.json", classic_pooling()
                                       .set("pooling_mode_cls_token", "true")
                                       .set("pooling_mode_mean_tokens", "false")
                                       .str());
  const ModelConfig c = load_model_config(dir.path);
  CHECK(c.pooling == Pooling::CLS);
  CHECK_FALSE(c.normalize);

  // Only word_embedding_dimension: sentence-transformers' default, mean pooling.
  dir.put("1_Pooling/config.json", R"({"word_embedding_dimension": 384})");
  CHECK(load_model_config(dir.path).pooling == Pooling::Mean);
}

TEST_CASE("config: missing or malformed config.json", "[io]") {
  TempDir dir;
  const std::string file = dir.file("config.json");
  REQUIRE_THROWS_AS(load_model_config(dir.path), sbert::Error);
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      "[config] " + file + ": cannot open (No such file or directory)");
  dir.put("config.json", "{\"model_type\": \"bert\", ");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      Contains("[config] " + file) && Contains("not valid JSON"));
  dir.put("config.json", "");
  REQUIRE_THROWS_WITH(load_model_config(dir.path), Contains(file) && Contains("not valid JSON"));
  dir.put("config.json", "[1, 2]");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      Contains(file) && Contains("top level is an array, expected a JSON object"));
}

TEST_CASE("config: unsupported architectures are rejected naming the field and value", "[io]") {
  TempDir dir;
  const std::string file = dir.file("config.json");
  auto load_with = [&](const Json& j) {
    dir.put("config.json", j.str());
    return load_model_config(dir.path);
  };
  REQUIRE_THROWS_WITH(
      load_with(minilm_config().set("model_type", "\"deberta-v2\"")),
      "[config] " + file +
          ": model_type 'deberta-v2' is not supported (supported: bert, roberta, xlm-roberta)");
  for (const std::string t : {"distilbert", "mpnet", "BERT", "XLM-RoBERTa", ""}) {
    INFO(t);
    REQUIRE_THROWS_WITH(load_with(minilm_config().set("model_type", "\"" + t + "\"")),
                        Contains(file) && Contains("model_type '" + t + "' is not supported"));
  }
  REQUIRE_THROWS_WITH(load_with(minilm_config().erase("model_type")),
                      Contains(file) && Contains("missing required field 'model_type'"));
  REQUIRE_THROWS_WITH(
      load_with(minilm_config().set("position_embedding_type", "\"relative_key\"")),
      Contains(file) &&
          Contains("field 'position_embedding_type' is 'relative_key', which is not supported"));
  REQUIRE_THROWS_WITH(
      load_with(minilm_config().set("hidden_act", "\"gelu_new\"")),
      Contains(file) && Contains("field 'hidden_act' is 'gelu_new', which is not supported"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("hidden_act", "\"relu\"")),
                      Contains("field 'hidden_act' is 'relu'"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("is_decoder", "true")),
                      Contains(file) && Contains("field 'is_decoder' is true"));
}

TEST_CASE("config: missing, mistyped and out-of-range sizes are rejected naming the field",
          "[io]") {
  TempDir dir;
  const std::string file = dir.file("config.json");
  auto load_with = [&](const Json& j) {
    dir.put("config.json", j.str());
    return load_model_config(dir.path);
  };
  for (const std::string key :
       {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
        "intermediate_size", "max_position_embeddings"}) {
    INFO(key);
    REQUIRE_THROWS_WITH(load_with(minilm_config().erase(key)),
                        "[config] " + file + ": missing required field '" + key + "'");
    REQUIRE_THROWS_WITH(
        load_with(minilm_config().set(key, "0")),
        Contains(file) && Contains("field '" + key + "' is 0, expected a positive"));
    REQUIRE_THROWS_WITH(load_with(minilm_config().set(key, "-3")),
                        Contains("field '" + key + "' is -3"));
    REQUIRE_THROWS_WITH(load_with(minilm_config().set(key, "\"384\"")),
                        Contains(file) && Contains("field '" + key +
                                                   "' must be an integer, got \"384\" (a string)"));
    REQUIRE_THROWS_WITH(load_with(minilm_config().set(key, "384.5")),
                        Contains("field '" + key + "' must be an integer, got 384.5"));
    REQUIRE_THROWS_WITH(load_with(minilm_config().set(key, "null")),
                        Contains("field '" + key + "' must be an integer, got null"));
    REQUIRE_THROWS_WITH(load_with(minilm_config().set(key, "4294967296")),
                        Contains("field '" + key + "' is 4294967296") && Contains("fits in int"));
  }
  REQUIRE_THROWS_WITH(
      load_with(minilm_config().set("hidden_size", "100")),
      Contains(file) && Contains("hidden_size 100 is not divisible by num_attention_heads 12"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("type_vocab_size", "0")),
                      Contains("field 'type_vocab_size' is 0"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("pad_token_id", "30522")),
                      Contains(file) && Contains("field 'pad_token_id' is 30522"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("pad_token_id", "\"0\"")),
                      Contains("field 'pad_token_id' must be an integer"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("layer_norm_eps", "\"1e-12\"")),
                      Contains(file) && Contains("field 'layer_norm_eps' must be a number"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("layer_norm_eps", "0")),
                      Contains("field 'layer_norm_eps' is 0"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("hidden_dropout_prob", "1.5")),
                      Contains(file) && Contains("field 'hidden_dropout_prob' is 1.5"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("attention_probs_dropout_prob", "true")),
                      Contains("field 'attention_probs_dropout_prob' must be a number"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("hidden_act", "5")),
                      Contains("field 'hidden_act' must be a string"));
  REQUIRE_THROWS_WITH(load_with(minilm_config().set("model_type", "[\"bert\"]")),
                      Contains("field 'model_type' must be a string"));
}

TEST_CASE("config: modules.json with modules libsbert does not run", "[io]") {
  TempDir dir;
  write_minilm(dir);
  const std::string file = dir.file("modules.json");
  SECTION("a Dense module") {
    dir.put("modules.json", R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
  {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}
])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains("[config] " + file) &&
                            Contains("module 2 type 'sentence_transformers.models.Dense' (path "
                                     "'2_Dense') is not supported"));
  }
  SECTION("a module type from outside sentence-transformers") {
    dir.put("modules.json", R"([{"path": "", "type": "my_package.Transformer"}])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("type 'my_package.Transformer'"));
  }
  SECTION("no Pooling module") {
    dir.put("modules.json",
            R"([{"path": "", "type": "sentence_transformers.models.Transformer"}])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("modules are [Transformer]"));
  }
  SECTION("Normalize before Pooling") {
    dir.put("modules.json", R"([
  {"path": "", "type": "sentence_transformers.models.Transformer"},
  {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
  {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
])");
    REQUIRE_THROWS_WITH(
        load_model_config(dir.path),
        Contains(file) && Contains("modules are [Transformer, Normalize, Pooling]"));
  }
  SECTION("the Transformer in a subfolder") {
    dir.put("modules.json", R"([
  {"path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
  {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("Transformer module path '0_Transformer'"));
  }
  SECTION("malformed entries") {
    dir.put("modules.json", R"({"0": "Transformer"})");
    REQUIRE_THROWS_WITH(
        load_model_config(dir.path),
        Contains(file) && Contains("top level is an object, expected a JSON array"));
    dir.put("modules.json", R"(["sentence_transformers.models.Transformer"])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("module 0 is a string, expected an object"));
    dir.put("modules.json", R"([{"path": ""}])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("module 0 has no field 'type'"));
    dir.put("modules.json", R"([{"path": "", "type": "sentence_transformers.models.Transformer"},
                                {"type": "sentence_transformers.models.Pooling"}])");
    REQUIRE_THROWS_WITH(load_model_config(dir.path),
                        Contains(file) && Contains("module 1") && Contains("no field 'path'"));
    dir.put("modules.json", "[");
    REQUIRE_THROWS_WITH(load_model_config(dir.path), Contains(file) && Contains("not valid JSON"));
  }
}

TEST_CASE("config: bad 1_Pooling/config.json", "[io]") {
  TempDir dir;
  write_minilm(dir);
  const std::string file = dir.file("1_Pooling/config.json");
  auto load_with = [&](const std::string& text) {
    dir.put("1_Pooling/config.json", text);
    return load_model_config(dir.path);
  };
  REQUIRE_THROWS_WITH(
      load_with(classic_pooling().set("pooling_mode_cls_token", "true").str()),
      Contains("[config] " + file) &&
          Contains("fields 'pooling_mode_mean_tokens' (true) and 'pooling_mode_cls_token' (true): "
                   "exactly one must be true"));
  REQUIRE_THROWS_WITH(load_with(classic_pooling().set("pooling_mode_mean_tokens", "false").str()),
                      Contains(file) && Contains("'pooling_mode_mean_tokens' (false)") &&
                          Contains("exactly one must be true"));
  for (const std::string key : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    INFO(key);
    REQUIRE_THROWS_WITH(load_with(classic_pooling().set(key, "true").str()),
                        Contains(file) && Contains("field '" + key + "' is true"));
  }
  REQUIRE_THROWS_WITH(load_with(classic_pooling().set("pooling_mode_mean_tokens", "\"yes\"").str()),
                      Contains(file) && Contains("field 'pooling_mode_mean_tokens' must be true or "
                                                 "false, got \"yes\""));
  REQUIRE_THROWS_WITH(load_with(classic_pooling().set("word_embedding_dimension", "768").str()),
                      Contains(file) && Contains("field 'word_embedding_dimension' is 768 but the "
                                                 "model's hidden_size is 384"));
  REQUIRE_THROWS_WITH(load_with(R"({"embedding_dimension": 384, "pooling_mode": "max"})"),
                      Contains(file) && Contains("field 'pooling_mode' is 'max'"));
  REQUIRE_THROWS_WITH(load_with(R"({"pooling_mode": ["mean", "max"]})"),
                      Contains(file) && Contains("field 'pooling_mode' must be"));
  REQUIRE_THROWS_WITH(load_with(R"({"pooling_mode": 1})"),
                      Contains("field 'pooling_mode' must be \"mean\" or \"cls\""));
  REQUIRE_THROWS_WITH(load_with("not json"), Contains(file) && Contains("not valid JSON"));

  fs::remove_all(dir / "1_Pooling");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      "[config] " + file + ": cannot open (No such file or directory)");
}

TEST_CASE("config: bad sentence_bert_config.json and tokenizer_config.json", "[io]") {
  TempDir dir;
  write_minilm(dir);
  const std::string file = dir.file("sentence_bert_config.json");
  dir.put("sentence_bert_config.json", R"({"max_seq_length": 1024})");
  REQUIRE_THROWS_WITH(
      load_model_config(dir.path),
      Contains("[config] " + file) && Contains("field 'max_seq_length' is 1024, expected "
                                               "1..max_position_embeddings (512)"));
  dir.put("sentence_bert_config.json", R"({"max_seq_length": 0})");
  REQUIRE_THROWS_WITH(load_model_config(dir.path), Contains("field 'max_seq_length' is 0"));
  dir.put("sentence_bert_config.json", R"({"max_seq_length": "256"})");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      Contains(file) && Contains("field 'max_seq_length' must be an integer"));
  dir.put("sentence_bert_config.json", "[]");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      Contains(file) && Contains("top level is an array"));

  dir.put("sentence_bert_config.json", "{}");
  dir.put("tokenizer_config.json", R"({"model_max_length": "long"})");
  REQUIRE_THROWS_WITH(load_model_config(dir.path),
                      Contains(dir.file("tokenizer_config.json")) &&
                          Contains("field 'model_max_length' must be a number"));
  dir.put("tokenizer_config.json", R"({"model_max_length": 0})");
  REQUIRE_THROWS_WITH(load_model_config(dir.path), Contains("field 'model_max_length' is 0"));
}
