// Tokenizer::decode against transformers' batch_decode(ids, skip_special_tokens=True)
// (tests/fixtures/tokenizers/decode.jsonl, tools/reference/make_decode_fixture.py) for WordPiece,
// Unigram (Metaspace) and byte-level BPE tokenizers: gist's guide re-tokenizes this text when
// its vocabulary is another one.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sbert/tokenizer.h"
#include "support/fixtures.h"

using namespace sbert;

namespace {

std::optional<std::filesystem::path> folder_of(const std::string& model) {
  if (model == "minilm") return test::minilm_dir();
  return test::fixture_dir(model);
}

}  // namespace

TEST_CASE("tokenizer decode matches transformers batch_decode with skip_special_tokens",
          "[tokenizer][decode]") {
  simdjson::dom::parser parser;
  const auto path = test::fixture_dir("tokenizers") / "decode.jsonl";
  simdjson::padded_string text = simdjson::padded_string::load(path.string());
  std::map<std::string, std::optional<Tokenizer>> toks;
  std::map<std::string, int> checked;
  simdjson::dom::document_stream docs = parser.parse_many(text);
  for (simdjson::dom::element rec : docs) {
    const std::string model{std::string_view(rec["model"])};
    if (!toks.count(model)) {
      const auto dir = folder_of(model);
      if (dir)
        toks.emplace(model, Tokenizer::load(*dir));
      else
        toks.emplace(model, std::nullopt);
    }
    const auto& tok = toks.at(model);
    if (!tok) continue;
    std::vector<int32_t> ids;
    for (auto v : rec["ids"].get_array()) ids.push_back(static_cast<int32_t>(int64_t(v)));
    const std::string want{std::string_view(rec["decoded"])};
    INFO(model << " " << std::string_view(rec["file"]) << " id " << int64_t(rec["id"]));
    CHECK(tok->decode(ids) == want);
    ++checked[model];
  }
  for (const char* m : {"tiny-bert", "tiny-bert-cls", "tiny-xlmr", "tiny-roberta",
                        "tokenizers/xlmr-spm", "tokenizers/roberta-files"}) {
    INFO(m);
    REQUIRE(checked[m] > 100);
  }
  if (!toks.at("minilm"))
    WARN("all-MiniLM-L6-v2 not found (scripts/fetch-model.sh): its cases skipped");
  for (const auto& [m, n] : checked)
    std::printf("decode parity %s: %d sequences equal\n", m.c_str(), n);
}
