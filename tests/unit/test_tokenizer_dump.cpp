// Hidden driver for libsbert/src/tokenizer/check_against_hf.py, which compares this tokenizer
// with Hugging Face tokenizers on any number of texts. Not run by default ("[.]" tag):
//
//   SBERT_TOK_DUMP_MODEL=<dir or tokenizer.json> SBERT_TOK_DUMP_INPUT=<in>
//   SBERT_TOK_DUMP_OUTPUT=<out> SBERT_TOK_DUMP_WHAT=ids|normalize|tokenize|save|bench
//   [SBERT_TOK_DUMP_MAX_LENGTH=n] ./build/bin/sbert_tests "[tokenizer-dump]"
//   (all on one command line)
//
// Input: texts, each as "<byte length>\n<bytes>\n". Output: one line per text; ids separated by
// spaces, or the normalized text / tokens in the same length-prefixed form.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "sbert/tokenizer.h"

namespace {

const char* env(const char* name) { return std::getenv(name); }

}  // namespace

TEST_CASE("tokenizer dump for check_against_hf.py", "[.][tokenizer-dump]") {
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
  if (std::string(what) == "save") {  // writes the tokenizer files into directory OUTPUT
    tok.save(output, 0);
    return;
  }
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
  const std::string mode = what;
  if (mode == "bench") {  // OUTPUT: number of threads (0: all cores)
    const int threads = std::atoi(output);
    size_t bytes = 0, n_ids = 0;
    for (const auto& t : texts) bytes += t.size();
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();  // process CPU time, all threads
    int rounds = 0;
    double secs = 0;
    do {
      if (threads == 1) {
        for (const auto& t : texts) n_ids += tok.encode(t, max_length).size();
      } else {
        for (const auto& ids : tok.encode_batch(texts, max_length, threads)) n_ids += ids.size();
      }
      ++rounds;
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (secs < 2.0);
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    const double docs = static_cast<double>(texts.size()) * rounds;
    WARN("threads " << threads << ": " << docs / secs << " docs/s, "
                    << static_cast<double>(bytes) * rounds / secs / 1e6 << " MB/s, "
                    << static_cast<double>(n_ids) / secs << " ids/s; per CPU second: " << docs / cpu
                    << " docs, " << static_cast<double>(bytes) * rounds / cpu / 1e6 << " MB");
    return;
  }
  std::ofstream out(output, std::ios::binary);
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
