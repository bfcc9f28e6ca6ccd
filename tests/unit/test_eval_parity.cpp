// Parity with sentence-transformers' InformationRetrievalEvaluator and
// EmbeddingSimilarityEvaluator: all-MiniLM-L6-v2 on the SciFact subset and 200 STS-test pairs of
// tests/fixtures/eval (written by tools/reference/make_eval_fixture.py). Skips without MiniLM.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdio>

#include "eval/beir.h"
#include "eval/retrieval.h"
#include "eval/sts.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;

namespace {

std::filesystem::path fixture(const std::string& name) { return test::fixture_dir("eval") / name; }

}  // namespace

TEST_CASE("retrieval metrics equal sentence-transformers' on a SciFact subset", "[eval][parity]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping eval parity");
    return;
  }
  simdjson::dom::parser parser;
  const simdjson::dom::element ref = parser.load(fixture("st_metrics.json").string());
  const auto st = ref["retrieval"];

  // The subset keeps a qrel to a document left out of its corpus on purpose: counted as
  // sentence-transformers counts it, which needs the opt-in; strict reading refuses it.
  CHECK_THROWS_WITH(eval::read_beir(fixture("scifact-subset"), "test"),
                    Catch::Contains("test.tsv:13: corpus-id \"25007443\" is not in corpus.jsonl"));
  eval::BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const auto data = eval::read_beir(fixture("scifact-subset"), "test", lenient);
  CHECK(static_cast<int64_t>(data.query_ids.size()) == st["queries"].get_int64().value());
  CHECK(static_cast<int64_t>(data.corpus_ids.size()) == st["corpus"].get_int64().value());
  CHECK(data.queries_skipped == 5);
  CHECK(data.qrels_unknown_doc == 1);
  CHECK(data.qrels_unknown_query == 1);

  const auto model = Model::load(*dir);
  eval::RetrievalOptions ro;
  ro.embed.batch_size = 32;
  const auto hits = eval::retrieve(model, data, ro);
  const auto m = eval::score_hits(hits, data, ro.ks);
  double worst = 0;
  for (const auto& v : m.values) {
    const double want = st[v.name()].get_double().value();
    INFO(v.name() << ": ours " << v.value << ", sentence-transformers " << want);
    CHECK(std::fabs(v.value - want) <= 1e-4);
    worst = std::max(worst, std::fabs(v.value - want));
  }
  std::printf(
      "eval parity (SciFact subset, %zu queries x %zu docs): ndcg@10 %.6f (ST %.6f), "
      "max |metric diff| %.3g\n",
      data.query_ids.size(), data.corpus_ids.size(), m.get("ndcg@10"),
      st["ndcg@10"].get_double().value(), worst);

  // The top 10 of every query: the same documents in the same order, scores within 1e-5.
  const auto top = ref["retrieval_top10"];
  size_t same_order = 0, total = 0;
  float max_score_diff = 0;
  for (size_t q = 0; q < data.query_ids.size(); ++q) {
    const simdjson::dom::array want = top[data.query_ids[q]].get_array();
    size_t j = 0;
    for (const auto pair : want) {
      const simdjson::dom::array p = pair.get_array();
      const std::string id(std::string_view(p.at(0).get_string()));
      const double score = p.at(1).get_double();
      REQUIRE(j < hits[q].size());
      ++total;
      if (data.corpus_ids[static_cast<size_t>(hits[q][j].doc)] == id) ++same_order;
      max_score_diff =
          std::max(max_score_diff,
                   static_cast<float>(std::fabs(static_cast<double>(hits[q][j].score) - score)));
      ++j;
    }
  }
  std::printf("eval parity: top-10 ids identical at %zu of %zu ranks, max |score diff| %.3g\n",
              same_order, total, static_cast<double>(max_score_diff));
  CHECK(same_order == total);
  CHECK(max_score_diff <= 1e-5f);
}

TEST_CASE("STS Spearman and Pearson equal sentence-transformers' on 200 STS-test pairs",
          "[eval][parity]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping STS parity");
    return;
  }
  simdjson::dom::parser parser;
  const simdjson::dom::element ref = parser.load(fixture("st_metrics.json").string());
  const double want_s = ref["sts"]["spearman"].get_double();
  const double want_p = ref["sts"]["pearson"].get_double();
  const auto data = eval::read_sts(fixture("sts-test-subset.tsv"));
  REQUIRE(data.scores.size() == 200);
  const auto model = Model::load(*dir);
  const auto m = eval::evaluate_sts(model, data, {});
  std::printf("eval parity (STS, 200 pairs): spearman %.12f (ST %.12f), pearson %.12f (ST %.12f)\n",
              m.spearman, want_s, m.pearson, want_p);
  CHECK(std::fabs(m.spearman - want_s) <= 1e-4);
  CHECK(std::fabs(m.pearson - want_p) <= 1e-4);
}
