// SentencePiece Unigram (XLM-R) and byte-level BPE (RoBERTa) tokenizers against Hugging Face,
// on tests/fixtures/tokenizers/cases.jsonl (tools/reference/make_tokenizer_fixtures.py): every
// text of every folder must give exactly the ids of transformers' AutoTokenizer (what
// sentence-transformers runs), untruncated and truncated to 16, and from_tokenizer_json the ids
// of tokenizers.Tokenizer.from_file.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/tokenizer.h"

namespace fs = std::filesystem;

namespace {

fs::path fixture_dir() {
  const char* env = std::getenv("SBERT_SOURCE_DIR");
  return fs::path(env && *env ? env : SBERT_SOURCE_DIR) / "tests" / "fixtures" / "tokenizers";
}

struct Case {
  std::string text;
  std::string set;
  simdjson::dom::object row;
};

std::vector<int32_t> ids_of(simdjson::dom::object row, const std::string& key) {
  std::vector<int32_t> out;
  simdjson::dom::array a;
  REQUIRE(!row[key].get_array().get(a));
  for (auto v : a) out.push_back(static_cast<int32_t>(int64_t(v)));
  return out;
}

struct Cases {
  std::string storage;
  std::vector<Case> cases;
  Cases() {
    std::ifstream f(fixture_dir() / "cases.jsonl", std::ios::binary);
    REQUIRE(f);
    std::ostringstream s;
    s << f.rdbuf();
    storage = std::move(s).str();
    std::istringstream lines(storage);
    std::string line;
    parsers.reserve(200);
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      parsers.push_back(std::make_unique<simdjson::dom::parser>());
      simdjson::dom::element doc;
      REQUIRE(!parsers.back()->parse(line).get(doc));
      Case c;
      c.row = doc.get_object().value();
      c.text = std::string(std::string_view(c.row["text"].get_string().value()));
      c.set = std::string(std::string_view(c.row["set"].get_string().value()));
      cases.push_back(std::move(c));
    }
  }
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
};

std::string show(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += std::to_string(x) + " ";
  return s;
}

void check_folder(const std::string& name, bool check_file) {
  static Cases all;
  const fs::path dir = fixture_dir() / name;
  const sbert::Tokenizer tok = sbert::Tokenizer::load(dir);
  std::optional<sbert::Tokenizer> file_tok;
  if (check_file) file_tok = sbert::Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  int same = 0, heldout = 0;
  for (const Case& c : all.cases) {
    INFO(name << ": text " << c.text);
    const auto want = ids_of(c.row, name);
    const auto got = tok.encode(c.text);
    CHECK(show(got) == show(want));
    CHECK(show(tok.encode(c.text, 16)) == show(ids_of(c.row, name + "@16")));
    if (file_tok) CHECK(show(file_tok->encode(c.text)) == show(ids_of(c.row, name + ":file")));
    same += got == want;
    heldout += c.set == "heldout";
  }
  CHECK(same == static_cast<int>(all.cases.size()));
  CHECK(heldout > 20);
}

}  // namespace

TEST_CASE("XLM-R tokenizer.json as transformers saves it gives HF ids", "[tokenizer][parity][xlmr]") {
  check_folder("xlmr", true);
}

TEST_CASE("XLM-R tokenizer.json in the published layout gives HF ids", "[tokenizer][parity][xlmr]") {
  check_folder("xlmr-classic", true);
}

TEST_CASE("XLM-R sentencepiece.bpe.model alone gives HF ids", "[tokenizer][parity][xlmr]") {
  check_folder("xlmr-spm", false);
}

TEST_CASE("RoBERTa byte-level BPE gives HF ids", "[tokenizer][parity][roberta]") {
  check_folder("roberta", true);
}
