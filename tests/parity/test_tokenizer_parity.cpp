// Token ids of sbert::Tokenizer against those of Hugging Face's fast tokenizer, stored by
// tools/reference/make_fixtures.py in tests/fixtures/<model>/tokens.safetensors:
//   "ids" I32 [total], "offsets" I64 [n + 1]             texts.jsonl, no truncation
//   "ids_trunc" I32, "offsets_trunc" I64                 truncation at metadata "max_length"
// Every text must give exactly the same ids. The models: tests/fixtures/tiny-bert,
// tests/fixtures/tiny-bert-cls, and all-MiniLM-L6-v2 from $SBERT_MINILM_DIR or
// <source>/models/all-MiniLM-L6-v2 (skipped with a warning when absent).
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sbert/tokenizer.h"

namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
  if (const char* env = std::getenv("SBERT_SOURCE_DIR"); env && *env) return env;
  return SBERT_SOURCE_DIR;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f);
  std::ostringstream s;
  s << f.rdbuf();
  return std::move(s).str();
}

std::vector<std::string> fixture_texts() {
  const fs::path path = source_dir() / "tests" / "data" / "texts.jsonl";
  INFO("reading " << path);
  const std::string all = read_all(path);
  std::vector<std::string> texts;
  simdjson::dom::parser parser;
  std::istringstream lines(all);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    simdjson::dom::element doc;
    REQUIRE(!parser.parse(line).get(doc));
    std::string_view text;
    REQUIRE(!doc["text"].get_string().get(text));
    texts.emplace_back(text);
  }
  return texts;
}

// Just enough of safetensors for the fixture: integer tensors and the metadata.
struct TokenFixture {
  std::map<std::string, std::vector<int64_t>> tensors;
  std::map<std::string, std::string> metadata;
};

TokenFixture read_token_fixture(const fs::path& path) {
  INFO("reading " << path);
  const std::string bytes = read_all(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  REQUIRE(8 + header_len <= bytes.size());
  const std::string_view data(bytes.data() + 8 + header_len, bytes.size() - 8 - header_len);
  simdjson::dom::parser parser;
  simdjson::dom::object header;
  REQUIRE(!parser.parse(bytes.data() + 8, header_len).get(header));
  TokenFixture out;
  for (auto [key, value] : header) {
    if (key == "__metadata__") {
      simdjson::dom::object meta;
      REQUIRE(!value.get_object().get(meta));
      for (auto [k, v] : meta) {
        std::string_view s;
        if (!v.get_string().get(s)) out.metadata[std::string(k)] = std::string(s);
      }
      continue;
    }
    std::string_view dtype;
    REQUIRE(!value["dtype"].get_string().get(dtype));
    simdjson::dom::array offsets;
    REQUIRE(!value["data_offsets"].get_array().get(offsets));
    uint64_t begin = 0, end = 0;
    REQUIRE(!offsets.at(0).get_uint64().get(begin));
    REQUIRE(!offsets.at(1).get_uint64().get(end));
    REQUIRE(begin <= end);
    REQUIRE(end <= data.size());
    std::vector<int64_t>& t = out.tensors[std::string(key)];
    if (dtype == "I32") {
      REQUIRE((end - begin) % 4 == 0);
      for (uint64_t at = begin; at < end; at += 4) {
        int32_t v;
        std::memcpy(&v, data.data() + at, 4);  // little-endian host assumed (x86, ARM)
        t.push_back(v);
      }
    } else if (dtype == "I64") {
      REQUIRE((end - begin) % 8 == 0);
      for (uint64_t at = begin; at < end; at += 8) {
        int64_t v;
        std::memcpy(&v, data.data() + at, 8);
        t.push_back(v);
      }
    }  // other dtypes are not needed here
  }
  return out;
}

std::string id_list(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
  s << "]";
  return s.str();
}

// Compares encode_batch(texts, max_length) with the fixture's sequences; returns the number of
// texts that differ and describes the first few in `report`.
size_t compare(const sbert::Tokenizer& tok, const std::vector<std::string>& texts,
               const std::vector<int64_t>& flat, const std::vector<int64_t>& offsets,
               int max_length, std::string& report) {
  REQUIRE(offsets.size() == texts.size() + 1);
  REQUIRE(offsets.back() == static_cast<int64_t>(flat.size()));
  const auto got = tok.encode_batch(texts, max_length);
  size_t bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> expected(flat.begin() + offsets[i], flat.begin() + offsets[i + 1]);
    if (got[i] == expected) continue;
    if (++bad <= 5) {
      std::ostringstream r;
      r << "text " << i << " (max_length " << max_length << "): \"" << texts[i].substr(0, 300)
        << "\"\n  hf:    " << id_list(expected) << "\n  sbert: " << id_list(got[i]) << "\n";
      report += r.str();
    }
  }
  return bad;
}

void check_model(const std::string& name, const std::optional<fs::path>& model_dir) {
  const fs::path fixture = source_dir() / "tests" / "fixtures" / name / "tokens.safetensors";
  if (!model_dir || !fs::is_directory(*model_dir)) {
    WARN("skipping tokenizer parity for " << name << ": model folder not found"
                                          << (model_dir ? " at " + model_dir->string() : ""));
    return;
  }
  if (!fs::is_regular_file(fixture)) {
    WARN("skipping tokenizer parity for " << name << ": " << fixture << " not found");
    return;
  }
  const std::vector<std::string> texts = fixture_texts();
  REQUIRE(!texts.empty());
  const TokenFixture fx = read_token_fixture(fixture);
  const sbert::Tokenizer tok = sbert::Tokenizer::load(*model_dir);
  std::string report;
  size_t bad = 0;
  REQUIRE(fx.tensors.count("ids"));
  REQUIRE(fx.tensors.count("offsets"));
  bad += compare(tok, texts, fx.tensors.at("ids"), fx.tensors.at("offsets"), 0, report);
  if (fx.tensors.count("ids_trunc") && fx.tensors.count("offsets_trunc")) {
    const auto it = fx.metadata.find("max_length");
    REQUIRE(it != fx.metadata.end());
    const int max_length = std::stoi(it->second);
    bad += compare(tok, texts, fx.tensors.at("ids_trunc"), fx.tensors.at("offsets_trunc"),
                   max_length, report);
  }
  INFO(name << ": " << bad << " of " << 2 * texts.size() << " sequences differ\n" << report);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("tokenizer parity with Hugging Face: tiny-bert (uncased)", "[tokenizer][parity]") {
  check_model("tiny-bert", source_dir() / "tests" / "fixtures" / "tiny-bert");
}

TEST_CASE("tokenizer parity with Hugging Face: tiny-bert-cls (cased)", "[tokenizer][parity]") {
  check_model("tiny-bert-cls", source_dir() / "tests" / "fixtures" / "tiny-bert-cls");
}

TEST_CASE("tokenizer parity with Hugging Face: all-MiniLM-L6-v2", "[tokenizer][parity]") {
  std::optional<fs::path> dir;
  if (const char* env = std::getenv("SBERT_MINILM_DIR"); env && *env) {
    dir = fs::path(env);
  } else {
    dir = source_dir() / "models" / "all-MiniLM-L6-v2";
  }
  check_model("minilm", dir);
}
