// RoBERTa / XLM-RoBERTa configs: what load_model_config reads for them (positions from
// pad_token_id + 1, the usable length, defaults), the position ids of a packed batch (as
// transformers' create_position_ids_from_input_ids), and the "roberta." weight prefix.
#include <catch2/catch.hpp>

#include <string>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "nn/bert_params.h"
#include "nn/encoder.h"
#include "sbert/config.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

// config.json of intfloat/multilingual-e5-small's shape (XLM-R family), vocab shrunk.
std::string xlmr_config(const std::string& extra = "", int max_pos = 514) {
  return R"({"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
    "vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 64, "max_position_embeddings": )" +
         std::to_string(max_pos) + R"(, "type_vocab_size": 1,
    "layer_norm_eps": 1e-05, "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu",
    "position_embedding_type": "absolute", "classifier_dropout": null)" +
         extra + "}";
}

}  // namespace

TEST_CASE("config: xlm-roberta and roberta configs", "[io][roberta]") {
  test::TempDir dir;
  test::put(dir / "config.json", xlmr_config(R"(, "pad_token_id": 1)"));
  ModelConfig c = load_model_config(dir.path());
  CHECK(c.model_type == "xlm-roberta");
  CHECK(c.roberta_positions());
  CHECK(c.pad_token_id == 1);
  CHECK(c.type_vocab_size == 1);
  CHECK(c.layer_norm_eps == 1e-5f);
  CHECK(c.first_position() == 2);
  CHECK(c.max_tokens() == 512);
  CHECK(c.max_seq_length == 512);  // no sentence-transformers files: min(512, 514 - 2)

  // transformers' default pad_token_id for the family is 1 (a config without one).
  test::put(dir / "config.json", xlmr_config());
  CHECK(load_model_config(dir.path()).pad_token_id == 1);

  // bge-m3's 8194 positions: 8192 tokens; model_max_length caps max_seq_length at them.
  test::put(dir / "config.json", xlmr_config(R"(, "pad_token_id": 1)", 8194));
  test::put(dir / "tokenizer_config.json",
            R"({"model_max_length": 1000000000000000019884624838656})");
  c = load_model_config(dir.path());
  CHECK(c.max_tokens() == 8192);
  CHECK(c.max_seq_length == 8192);

  // sentence_bert_config.json max_seq_length: at most the usable positions.
  test::put(dir / "config.json", xlmr_config(R"(, "pad_token_id": 1)"));
  fs::remove(dir / "tokenizer_config.json");
  test::put(dir / "sentence_bert_config.json", R"({"max_seq_length": 513})");
  CHECK_THAT(test::error_of([&] { load_model_config(dir.path()); }),
             Contains("field 'max_seq_length' is 513, expected 1..512 (max_position_embeddings "
                      "514 less the first position 2)"));
  test::put(dir / "sentence_bert_config.json", R"({"max_seq_length": 512})");
  CHECK(load_model_config(dir.path()).max_seq_length == 512);

  // RoBERTa: the same scheme.
  std::string roberta = xlmr_config(R"(, "pad_token_id": 1)");
  roberta.replace(roberta.find("\"xlm-roberta\""), 13, "\"roberta\"");
  test::put(dir / "config.json", roberta);
  c = load_model_config(dir.path());
  CHECK(c.model_type == "roberta");
  CHECK(c.first_position() == 2);

  // A position table too small for the offset.
  test::put(dir / "config.json", xlmr_config(R"(, "pad_token_id": 1)", 2));
  CHECK_THAT(test::error_of([&] { load_model_config(dir.path()); }),
             Contains("positions start at pad_token_id + 1 = 2, leaving no position"));

  // Anything else is still refused, naming the supported types.
  std::string other = xlmr_config();
  other.replace(other.find("\"xlm-roberta\""), 13, "\"deberta-v2\"");
  test::put(dir / "config.json", other);
  CHECK_THAT(test::error_of([&] { load_model_config(dir.path()); }),
             Contains("model_type 'deberta-v2' is not supported (supported: bert, roberta, "
                      "xlm-roberta)"));
}

TEST_CASE("position ids: BERT from 0, RoBERTa from pad_token_id + 1 skipping pad tokens",
          "[encoder][roberta]") {
  ModelConfig bert;
  bert.max_position_embeddings = 8;
  ModelConfig xlmr = bert;
  xlmr.model_type = "xlm-roberta";
  xlmr.pad_token_id = 1;
  const PackedBatch batch = pack_sequences({{0, 5, 1, 7, 2}, {0, 2}}, 0, 2);
  std::vector<int32_t> pos;
  position_ids(bert, batch, pos);
  CHECK(pos == std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1});
  // As create_position_ids_from_input_ids: the pad token (id 1) sits at position 1 and does
  // not advance the count.
  position_ids(xlmr, batch, pos);
  CHECK(pos == std::vector<int32_t>{2, 3, 1, 4, 5, 2, 3});
  // 8 positions hold 8 BERT tokens but 6 XLM-R tokens (pad tokens need none of their own).
  const PackedBatch seven = pack_sequences({{0, 5, 5, 5, 5, 5, 2}}, 0, 1);
  CHECK_THAT(test::error_of([&] { position_ids(xlmr, seven, pos); }),
             Contains("[encoder] sequence 0 has 7 tokens but the model has 6 positions"));
  position_ids(bert, seven, pos);
  CHECK(pos.back() == 6);
  const PackedBatch with_pads = pack_sequences({{0, 5, 1, 1, 5, 5, 5, 2}}, 0, 1);
  position_ids(xlmr, with_pads, pos);
  CHECK(pos == std::vector<int32_t>{2, 3, 1, 1, 4, 5, 6, 7});
}

TEST_CASE("weights: the roberta. prefix of a task checkpoint is read and reported",
          "[io][roberta]") {
  const fs::path src = test::fixture_dir("tiny-roberta");
  const ModelConfig cfg = load_model_config(src);
  const ParamLayout layout = make_bert_layout(cfg);
  const SafetensorsFile bare = SafetensorsFile::open(src / "model.safetensors");
  std::vector<float> a(static_cast<size_t>(layout.total)), b(a.size());
  CHECK(load_bert_weights(bare, layout, a.data()).prefix.empty());

  // The same tensors under "roberta." (RobertaForMaskedLM), plus an LM head it does not use.
  std::vector<TensorView> views;
  std::vector<std::vector<float>> keep;
  for (const ParamSpec& s : layout.specs) {
    views.push_back({"roberta." + s.name, DType::F32, s.shape, a.data() + s.offset});
  }
  keep.push_back(std::vector<float>(16, 0.5f));
  views.push_back({"lm_head.bias", DType::F32, {16}, keep.back().data()});
  test::TempDir dir;
  write_safetensors(dir / "model.safetensors", views, {{"format", "pt"}});
  const LoadReport r =
      load_bert_weights(SafetensorsFile::open(dir / "model.safetensors"), layout, b.data());
  CHECK(r.prefix == "roberta.");
  CHECK(r.unused == std::vector<std::string>{"lm_head.bias"});
  CHECK(a == b);
}
