// sbert-eval end to end on the hand-made tiny BEIR set and STS file with the tiny-bert fixture:
// the app's numbers are the library's, independent of chunking; usage and data errors.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "eval/beir.h"
#include "eval/retrieval.h"
#include "eval/sts.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;

namespace {

std::filesystem::path tiny_beir() { return test::source_dir() / "tests/data/eval/tiny-beir"; }
std::filesystem::path tiny_sts() { return test::source_dir() / "tests/data/eval/tiny-sts.tsv"; }
std::string tiny_bert() { return test::fixture_dir("tiny-bert").string(); }

// Top-level members of a flat JSON object: numbers as doubles (null -> NaN), strings as-is.
struct Json {
  std::map<std::string, double> num;
  std::map<std::string, std::string> str;
};

Json read_json(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser parser;
  const simdjson::dom::object obj = parser.parse(ss.str()).get_object();
  Json j;
  for (const auto field : obj) {
    const std::string key(field.key);
    if (field.value.is_string()) {
      j.str[key] = std::string(std::string_view(field.value.get_string()));
    } else if (field.value.is_null()) {
      j.num[key] = NAN;
    } else {
      j.num[key] = field.value.get_double();
    }
  }
  return j;
}

}  // namespace

// tiny-beir's q4 judges d99, absent from its corpus: strict reading refuses it, so these tests
// take sentence-transformers' counting with --allow-unknown-ids / BeirOptions.
TEST_CASE("sbert-eval --beir: the library's metrics, any chunking, skipped queries counted",
          "[eval][apps]") {
  test::TempDir tmp;
  const auto out = tmp / "m.json";
  const auto r =
      test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(),
                                   "--split", "test", "--output", out.string(), "--threads", "2",
                                   "--batch-size", "3", "--allow-unknown-ids"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stdout_text, Catch::Contains("ndcg@10"));
  CHECK_THAT(r.stdout_text, Catch::Contains("4 queries evaluated, 1 skipped"));
  CHECK_THAT(r.stderr_text, Catch::Contains("1 relevant judgements name documents absent"));
  const Json j = read_json(out);
  CHECK(j.num.at("queries") == 4);
  CHECK(j.num.at("queries_skipped") == 1);
  CHECK(j.num.at("corpus") == 10);
  CHECK(j.num.at("qrels_unknown_doc") == 1);
  CHECK(j.str.at("model") == tiny_bert());
  CHECK(j.str.at("split") == "test");
  CHECK(j.num.at("seconds") >= 0);
  for (const char* key : {"ndcg@10", "mrr@10", "recall@1", "recall@10", "recall@100", "map@100",
                          "precision@10", "accuracy@10"}) {
    INFO(key);
    REQUIRE(j.num.count(key) == 1);
    CHECK(j.num.at(key) >= 0.0);
    CHECK(j.num.at(key) <= 1.0);
  }
  // q4's second relevant document is absent from the corpus: recall@100 = (1 + 1 + 1 + 1/2) / 4
  CHECK(j.num.at("recall@100") == Approx(3.5 / 4).margin(1e-12));

  const auto model = Model::load(tiny_bert());
  eval::BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const auto data = eval::read_beir(tiny_beir(), "test", lenient);
  eval::RetrievalOptions ro;
  ro.embed.threads = 2;
  const auto lib = eval::evaluate_retrieval(model, data, ro);
  for (const auto& v : lib.values) {
    INFO(v.name());
    CHECK(j.num.at(v.name()) == Approx(v.value).margin(1e-15));
  }

  // Chunked corpus, one thread, other batch size: the same numbers.
  const auto out2 = tmp / "m2.json";
  const auto r2 =
      test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(),
                                   "--output", out2.string(), "--corpus-chunk-size", "3",
                                   "--threads", "1", "--allow-unknown-ids"});
  REQUIRE(r2.exit_code == 0);
  const Json j2 = read_json(out2);
  for (const auto& v : lib.values) CHECK(j2.num.at(v.name()) == j.num.at(v.name()));

  // Prefixes reach the embedding: the app with prefixes = the library with prefixes.
  const auto out3 = tmp / "m3.json";
  const auto r3 = test::run_app(
      "sbert-eval",
      {"--model", tiny_bert(), "--beir", tiny_beir().string(), "--output", out3.string(),
       "--query-prefix", "query: ", "--passage-prefix", "passage: ", "--allow-unknown-ids"});
  REQUIRE(r3.exit_code == 0);
  const Json j3 = read_json(out3);
  CHECK(j3.str.at("query_prefix") == "query: ");
  ro.query_prefix = "query: ";
  ro.passage_prefix = "passage: ";
  const eval::RetrievalOptions plain;
  const auto hits_plain = eval::retrieve(model, data, plain);
  const auto hits_prefixed = eval::retrieve(model, data, ro);
  CHECK(hits_plain[0][0].score != hits_prefixed[0][0].score);  // the prefix changed the vectors
  const auto lib3 = eval::score_hits(hits_prefixed, data);
  for (const auto& v : lib3.values) CHECK(j3.num.at(v.name()) == Approx(v.value).margin(1e-15));
}

TEST_CASE("sbert-eval --sts: Spearman and Pearson of cosine similarities", "[eval][apps]") {
  test::TempDir tmp;
  const auto out = tmp / "sts.json";
  const auto r = test::run_app("sbert-eval", {"--model", tiny_bert(), "--sts", tiny_sts().string(),
                                              "--output", out.string()});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stdout_text, Catch::Contains("spearman"));
  const Json j = read_json(out);
  CHECK(j.num.at("pairs") == 7);
  const auto model = Model::load(tiny_bert());
  const auto data = eval::read_sts(tiny_sts());
  const auto lib = eval::evaluate_sts(model, data, {});
  CHECK(j.num.at("spearman") == Approx(lib.spearman).margin(1e-15));
  CHECK(j.num.at("pearson") == Approx(lib.pearson).margin(1e-15));
  CHECK(std::fabs(lib.spearman) <= 1.0);
  // the cosines are those of the embeddings
  const auto cos = eval::sts_cosines(model, data, {});
  const auto e = model.embed({data.sentences1[2], data.sentences2[2]});
  CHECK(cos[2] == Approx(e.cosine(0, 1)).margin(1e-6));
}

TEST_CASE("sbert-eval usage and data errors", "[eval][apps]") {
  test::TempDir tmp;
  const auto out = tmp / "m.json";
  auto r = test::run_app("sbert-eval", {"--model", tiny_bert()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.stderr_text, Catch::Contains("exactly one of --beir DIR or --sts FILE"));
  r = test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(), "--sts",
                                   tiny_sts().string()});
  CHECK(r.exit_code == 2);
  r = test::run_app("sbert-eval", {"--model", tiny_bert(), "--sts", tiny_sts().string(),
                                   "--query-prefix", "q: "});
  CHECK(r.exit_code == 2);
  r = test::run_app("sbert-eval",
                    {"--model", tiny_bert(), "--beir", tiny_beir().string(), "--batch-size", "0"});
  CHECK(r.exit_code == 2);
  r = test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(),
                                   "--split", "train", "--output", out.string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.stderr_text, Catch::Contains("train.tsv: no such file (splits here: dev, test)"));
  CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
  CHECK(!std::filesystem::exists(out));
  r = test::run_app("sbert-eval", {"--model", (tmp / "no-model").string(), "--beir",
                                   tiny_beir().string(), "--output", out.string()});
  CHECK(r.exit_code == 1);
  CHECK(!std::filesystem::exists(out));
  r = test::run_app("sbert-eval",
                    {"--model", tiny_bert(), "--sts", tiny_sts().string(), "--allow-unknown-ids"});
  CHECK(r.exit_code == 2);
  // Strict by default: tiny-beir's qrel to d99 (line 8) is refused, nothing is written.
  r = test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(),
                                   "--output", out.string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.stderr_text,
             Catch::Contains("qrels/test.tsv:8: corpus-id \"d99\" is not in corpus.jsonl"));
  CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
  CHECK(!std::filesystem::exists(out));
  r = test::run_app("sbert-eval", {"--help"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.stdout_text, Catch::Contains("--passage-prefix"));
  CHECK_THAT(r.stdout_text, Catch::Contains("--allow-unknown-ids"));
}
