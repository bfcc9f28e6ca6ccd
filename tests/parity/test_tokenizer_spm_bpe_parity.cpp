// SentencePiece Unigram (XLM-R) and byte-level BPE (RoBERTa) tokenizers against Hugging Face,
// on tests/fixtures/tokenizers/cases.jsonl (tools/reference/make_tokenizer_fixtures.py): every
// text of every folder must give exactly the ids of transformers' AutoTokenizer (what
// sentence-transformers runs), untruncated and truncated to 16, and from_tokenizer_json the ids
// of tokenizers.Tokenizer.from_file.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <unistd.h>

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

// Folders whose ids make_tokenizer_fixtures.py leaves out where they equal a sibling's.
std::string sibling_key(const std::string& key) {
  for (const auto& [name, base] : {std::pair<std::string, std::string>{"xlmr-spm", "xlmr"},
                                   {"roberta-files", "roberta"}}) {
    if (key.rfind(name, 0) == 0 && (key.size() == name.size() || key[name.size()] == '@'))
      return base + key.substr(name.size());
  }
  return "";
}

std::vector<int32_t> ids_of(simdjson::dom::object row, const std::string& key) {
  std::vector<int32_t> out;
  simdjson::dom::array a;
  if (row[key].get_array().get(a)) {
    const std::string base = sibling_key(key);
    INFO("key " << key);
    REQUIRE(!base.empty());
    REQUIRE(!row[base].get_array().get(a));
  }
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

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f);
  std::ostringstream s;
  s << f.rdbuf();
  return std::move(s).str();
}

// Index after the JSON object that starts at text[start] (no braces inside its strings).
size_t object_end(const std::string& text, size_t start) {
  int depth = 0;
  for (size_t i = start; i < text.size(); ++i) {
    depth += text[i] == '{' ? 1 : text[i] == '}' ? -1 : 0;
    if (depth == 0) return i + 1;
  }
  FAIL("unbalanced JSON object");
  return text.size();
}

// xlmr/ rewritten in the layout of the published XLM-R tokenizer.json files, with the edits of
// classic_layout() in make_tokenizer_fixtures.py.
fs::path make_classic_folder() {
  const fs::path src = fixture_dir() / "xlmr";
  std::string text = read_file(src / "tokenizer.json");
  auto replace_object = [&](const std::string& key, const std::string& wrap_before,
                            const std::string& wrap_after, bool keep) {
    const size_t a = text.find(key);
    REQUIRE(a != std::string::npos);
    const size_t begin = a + key.size();
    const size_t end = object_end(text, begin);
    const std::string inner = keep ? text.substr(begin, end - begin) : "";
    text = text.substr(0, begin) + wrap_before + inner + wrap_after + text.substr(end);
  };
  replace_object("\"normalizer\":", "{\"type\":\"Sequence\",\"normalizers\":[",
                 ",{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}]}", true);
  replace_object("\"pre_tokenizer\":",
                 "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"add_prefix_space\":true}", "",
                 false);
  const std::string old = "\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":false";
  const size_t m = text.find(old);
  REQUIRE(m != std::string::npos);
  text.replace(m, old.size(), "\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":true");
  const fs::path dir =
      fs::temp_directory_path() / ("sbert-xlmr-classic-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
  fs::copy_file(src / "tokenizer_config.json", dir / "tokenizer_config.json",
                fs::copy_options::overwrite_existing);
  return dir;
}

std::string show(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += std::to_string(x) + " ";
  return s;
}

void check_folder(const std::string& name, bool check_file, fs::path dir = {}) {
  static Cases all;
  if (dir.empty()) dir = fixture_dir() / name;
  const sbert::Tokenizer tok = sbert::Tokenizer::load(dir);
  std::optional<sbert::Tokenizer> file_tok;
  if (check_file) file_tok = sbert::Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  int same = 0, heldout = 0, file_differs = 0;
  for (const Case& c : all.cases) {
    INFO(name << ": text " << c.text);
    const auto want = ids_of(c.row, name);
    const auto got = tok.encode(c.text);
    CHECK(show(got) == show(want));
    CHECK(show(tok.encode(c.text, 16)) == show(ids_of(c.row, name + "@16")));
    if (file_tok) {
      // ":file" (tokenizers.Tokenizer.from_file) is stored only where it differs.
      simdjson::dom::element e;
      const bool differs = !c.row[name + ":file"].get(e);
      CHECK(show(file_tok->encode(c.text)) == show(differs ? ids_of(c.row, name + ":file") : want));
      file_differs += differs;
    }
    same += got == want;
    heldout += c.set == "heldout";
  }
  CHECK(same == static_cast<int>(all.cases.size()));
  CHECK(heldout > 20);
  // The published XLM-R layout is where transformers' rebuild changes the ids.
  if (name == "xlmr-classic" && check_file) CHECK(file_differs > 0);
}

}  // namespace

TEST_CASE("XLM-R tokenizer.json as transformers saves it gives HF ids", "[tokenizer][parity][xlmr]") {
  check_folder("xlmr", true);
}

TEST_CASE("XLM-R tokenizer.json in the published layout gives HF ids", "[tokenizer][parity][xlmr]") {
  const fs::path dir = make_classic_folder();
  check_folder("xlmr-classic", true, dir);
  fs::remove_all(dir);
}

TEST_CASE("XLM-R sentencepiece.bpe.model alone gives HF ids", "[tokenizer][parity][xlmr]") {
  check_folder("xlmr-spm", false);
}

TEST_CASE("RoBERTa byte-level BPE gives HF ids", "[tokenizer][parity][roberta]") {
  check_folder("roberta", true);
}

TEST_CASE("RoBERTa vocab.json and merges.txt alone give HF ids", "[tokenizer][parity][roberta]") {
  check_folder("roberta-files", false);
}

TEST_CASE("XLM-R class from config.json model_type gives HF ids", "[tokenizer][parity][xlmr]") {
  // xlmr-classic without tokenizer_class: AutoTokenizer picks XLMRobertaTokenizer from
  // config.json's model_type, so the ids are those of xlmr-classic.
  const fs::path dir = make_classic_folder();
  std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << "{\"model_max_length\": 512}\n";
  std::ofstream(dir / "config.json", std::ios::binary) << "{\"model_type\": \"xlm-roberta\"}\n";
  check_folder("xlmr-classic", false, dir);
  fs::remove_all(dir);
}

TEST_CASE("Unigram and BPE tokenizers save their files unchanged", "[tokenizer][xlmr][roberta]") {
  for (const std::string name : {"xlmr", "xlmr-spm", "roberta"}) {
    INFO(name);
    const fs::path src = fixture_dir() / name;
    const fs::path dir =
        fs::temp_directory_path() / ("sbert-tok-save-" + name + "-" + std::to_string(::getpid()));
    const sbert::Tokenizer tok = sbert::Tokenizer::load(src);
    tok.save(dir, 0);
    for (const auto& entry : fs::directory_iterator(src)) {
      INFO(entry.path().filename());
      CHECK(read_file(dir / entry.path().filename()) == read_file(entry.path()));
    }
    const sbert::Tokenizer again = sbert::Tokenizer::load(dir);
    for (const char* text : {"Hello  world", "Größere Straßen 東京 😀", ""})
      CHECK(again.encode(text) == tok.encode(text));
    CHECK(again.pad_id() == 1);
    CHECK(again.cls_id() == 0);
    CHECK(again.sep_id() == 2);
    fs::remove_all(dir);
  }
}

TEST_CASE("XLM-R and RoBERTa tokenizers report their special ids", "[tokenizer][xlmr][roberta]") {
  const sbert::Tokenizer x = sbert::Tokenizer::load(fixture_dir() / "xlmr");
  CHECK(x.token_to_id("<mask>") == x.vocab_size() - 1);
  CHECK(x.unk_id() == 3);
  CHECK(x.id_to_token(0) == "<s>");
  CHECK(x.encode("").size() == 2);
  const auto pieces = x.tokenize("Hello world");
  REQUIRE(!pieces.empty());
  CHECK(pieces[0].rfind("\xE2\x96\x81", 0) == 0);  // U+2581 starts the first word
  CHECK(sbert::Tokenizer::from_tokenizer_json(fixture_dir() / "xlmr" / "tokenizer.json").pad_id() ==
        1);
  const sbert::Tokenizer r = sbert::Tokenizer::load(fixture_dir() / "roberta");
  CHECK(r.pad_id() == 1);
  CHECK(r.tokenize(" a").at(0) == "\xC4\xA0" "a");  // the space is byte-level U+0120
}

TEST_CASE("Unsupported Unigram and BPE settings are refused with the field", "[tokenizer][xlmr]") {
  const fs::path dir = fs::temp_directory_path() / ("sbert-tok-bad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string text = read_file(fixture_dir() / "xlmr" / "tokenizer.json");
  const size_t a = text.find("\"pre_tokenizer\":");
  REQUIRE(a != std::string::npos);
  const size_t begin = a + 16;
  text = text.substr(0, begin) + "{\"type\":\"Whitespace\"}" + text.substr(object_end(text, begin));
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
  try {
    (void)sbert::Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
    FAIL("no error");
  } catch (const sbert::Error& e) {
    CHECK(std::string(e.what()).find("pre_tokenizer.type is 'Whitespace'") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("tokenizer_config.json added_tokens_decoder flags win over tokenizer.json's",
          "[tokenizer][xlmr]") {
  // tokenizer.json: <mask> normalized (so the full-width <mask> matches it after Precompiled);
  // added_tokens_decoder: not normalized, so Unigram reads <mask> as a piece inside the word.
  // Ids from AutoTokenizer (transformers 5.25) on the same two folders.
  const fs::path src = fixture_dir() / "xlmr";
  std::string text = read_file(src / "tokenizer.json");
  const std::string old = "\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":false,"
                          "\"rstrip\":false,\"normalized\":false";
  const size_t m = text.find(old);
  REQUIRE(m != std::string::npos);
  text.replace(m, old.size(),
               "\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":true,"
               "\"rstrip\":false,\"normalized\":true");
  const fs::path dir =
      fs::temp_directory_path() / ("sbert-tok-decoder-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
  const std::string config = "{\"tokenizer_class\": \"XLMRobertaTokenizer\"";
  const std::string text_in = "a\xEF\xBC\x9Cmask\xEF\xBC\x9E\xE2\x84\x83";  // a＜mask＞℃
  std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << config << "}";
  CHECK(sbert::Tokenizer::load(dir).encode(text_in) ==
        std::vector<int32_t>{0, 5, 2001, 9, 1895, 261, 2});
  std::ofstream(dir / "tokenizer_config.json", std::ios::binary)
      << config
      << ", \"added_tokens_decoder\": {\"2001\": {\"content\": \"<mask>\", \"lstrip\": true, "
         "\"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}}}";
  CHECK(sbert::Tokenizer::load(dir).encode(text_in) ==
        std::vector<int32_t>{0, 5, 2001, 1895, 261, 2});
  fs::remove_all(dir);
}
