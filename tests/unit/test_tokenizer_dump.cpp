// Hidden driver for libsbert/src/tokenizer/check_against_hf.py, which compares this tokenizer
// with Hugging Face tokenizers on any number of texts. Not run by default ("[.]" tag):
//
//   SBERT_TOK_DUMP_MODEL=<dir or tokenizer.json> SBERT_TOK_DUMP_INPUT=<in>
//   SBERT_TOK_DUMP_OUTPUT=<out> SBERT_TOK_DUMP_WHAT=ids|normalize|tokenize
//   [SBERT_TOK_DUMP_MAX_LENGTH=n] ./build/bin/sbert_tests "[tokenizer-dump]"
//   (all on one command line)
//
// Input: texts, each as "<byte length>\n<bytes>\n". Output: one line per text; ids separated by
// spaces, or the normalized text / tokens in the same length-prefixed form.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "sbert/tokenizer.h"

namespace {

const char* env(const char* name) { return std::getenv(name); }

}  // namespace

TEST_CASE("tokenizer dump for check_against_hf.py", "[.][tokenizer-dump][tokenizer]") {
  const char* model = env("SBERT_TOK_DUMP_MODEL");
  const char* input = env("SBERT_TOK_DUMP_INPUT");
  const char* output = env("SBERT_TOK_DUMP_OUTPUT");
  const char* what = env("SBERT_TOK_DUMP_WHAT");
  if (!model || !input || !output || !what) {
    WARN("set SBERT_TOK_DUMP_MODEL, _INPUT, _OUTPUT and _WHAT to run the dump");
    return;
  }
  const char* max_len_env = env("SBERT_TOK_DUMP_MAX_LENGTH");
  const int max_length = max_len_env ? std::atoi(max_len_env) : 0;
  const std::string model_path = model;
  const bool is_json = model_path.size() > 5 && model_path.substr(model_path.size() - 5) == ".json";
  const sbert::Tokenizer tok = is_json ? sbert::Tokenizer::from_tokenizer_json(model_path)
                                       : sbert::Tokenizer::load(model_path);
  std::ifstream in(input, std::ios::binary);
  REQUIRE(in);
  std::vector<std::string> texts;
  while (true) {
    size_t n = 0;
    if (!(in >> n)) break;
    in.get();
    std::string s(n, '\0');
    in.read(s.data(), static_cast<std::streamsize>(n));
    in.get();
    texts.push_back(std::move(s));
  }
  std::ofstream out(output, std::ios::binary);
  const std::string mode = what;
  if (mode == "ids") {
    const auto all = tok.encode_batch(texts, max_length);
    for (const auto& ids : all) {
      for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
      out << "\n";
    }
  } else if (mode == "normalize") {
    for (const auto& t : texts) {
      const std::string s = tok.normalize(t);
      out << s.size() << "\n" << s << "\n";
    }
  } else {
    for (const auto& t : texts) {
      std::string joined;
      for (const auto& p : tok.tokenize(t)) joined += p + " ";
      out << joined.size() << "\n" << joined << "\n";
    }
  }
  REQUIRE(out.good());
}
