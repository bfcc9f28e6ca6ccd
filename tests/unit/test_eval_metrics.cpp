// sbert::eval metrics on hand-computed cases: the definitions of
// sentence-transformers' InformationRetrievalEvaluator and scipy's spearmanr/pearsonr.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "eval/beir.h"
#include "eval/metrics.h"

using namespace sbert::eval;
using Catch::Matchers::WithinAbs;

namespace {

// Ranked list 0, 1, 2, ..., n-1 (document i at rank i + 1).
std::vector<int64_t> iota_ranking(int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] = i;
  return r;
}

RetrievalMetrics one_query(const std::vector<int64_t>& ranking, std::vector<int64_t> relevant,
                           int64_t count, const RetrievalKs& ks = {}) {
  return compute_retrieval_metrics({ranking}, {Relevance{std::move(relevant), count}}, ks);
}

constexpr double kTol = 1e-15;

}  // namespace

TEST_CASE("two relevant documents at ranks 1 and 3", "[eval]") {
  const auto m = one_query(iota_ranking(100), {0, 2}, 2);
  // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1/log2(2) + 1/log2(3)
  CHECK_THAT(m.get("ndcg@10"), WithinAbs(1.5 / (1.0 + 1.0 / std::log2(3.0)), kTol));
  CHECK_THAT(m.get("ndcg@10"), WithinAbs(0.9197207891481876, kTol));
  CHECK(m.get("mrr@10") == 1.0);
  CHECK(m.get("recall@1") == 0.5);
  CHECK(m.get("recall@3") == 1.0);
  CHECK(m.get("recall@100") == 1.0);
  CHECK(m.get("precision@1") == 1.0);
  CHECK_THAT(m.get("precision@3"), WithinAbs(2.0 / 3.0, kTol));
  CHECK_THAT(m.get("precision@100"), WithinAbs(0.02, kTol));
  CHECK(m.get("accuracy@1") == 1.0);
  // AP@100 = (1/1 + 2/3) / min(100, 2)
  CHECK_THAT(m.get("map@100"), WithinAbs((1.0 + 2.0 / 3.0) / 2.0, kTol));
  CHECK(m.queries == 1);
}

TEST_CASE("the only relevant document at rank 11", "[eval]") {
  const auto m = one_query(iota_ranking(100), {10}, 1);
  CHECK(m.get("ndcg@10") == 0.0);
  CHECK(m.get("mrr@10") == 0.0);
  CHECK(m.get("recall@10") == 0.0);
  CHECK(m.get("accuracy@10") == 0.0);
  CHECK(m.get("precision@10") == 0.0);
  CHECK(m.get("recall@100") == 1.0);
  CHECK_THAT(m.get("precision@100"), WithinAbs(0.01, kTol));
  CHECK_THAT(m.get("map@100"), WithinAbs(1.0 / 11.0, kTol));
}

TEST_CASE("relevant documents missing from the top 100 and from the corpus", "[eval]") {
  // Three relevant: document 1 (rank 2), document 4 (rank 5), document 150 (not in the top 100)
  // and one id that is not in the corpus at all (count 4).
  const auto m = one_query(iota_ranking(100), {1, 4, 150}, 4);
  CHECK_THAT(m.get("recall@100"), WithinAbs(2.0 / 4.0, kTol));
  CHECK_THAT(m.get("recall@10"), WithinAbs(2.0 / 4.0, kTol));
  CHECK(m.get("recall@1") == 0.0);
  // AP@100 = (1/2 + 2/5) / min(100, 4)
  CHECK_THAT(m.get("map@100"), WithinAbs((0.5 + 0.4) / 4.0, kTol));
  CHECK_THAT(m.get("mrr@10"), WithinAbs(0.5, kTol));
  // NDCG@10 = (1/log2(3) + 1/log2(6)) / (1 + 1/log2(3) + 1/log2(4) + 1/log2(5))
  const double idcg = 1.0 + 1.0 / std::log2(3.0) + 0.5 + 1.0 / std::log2(5.0);
  CHECK_THAT(m.get("ndcg@10"),
             WithinAbs((1.0 / std::log2(3.0) + 1.0 / std::log2(6.0)) / idcg, kTol));
}

TEST_CASE("MAP divides by min(k, #relevant) and IDCG runs over min(#relevant, k)", "[eval]") {
  RetrievalKs ks;
  ks.map = {2};
  ks.ndcg = {2};
  ks.precision_recall = {2};
  ks.accuracy = {1};
  ks.mrr = {2};
  // 3 relevant, the top 2 both relevant: AP@2 = (1/1 + 2/2) / min(2, 3) = 1, NDCG@2 = 1
  const auto m = one_query(iota_ranking(5), {0, 1, 4}, 3, ks);
  CHECK(m.get("map@2") == 1.0);
  CHECK(m.get("ndcg@2") == 1.0);
  CHECK_THAT(m.get("recall@2"), WithinAbs(2.0 / 3.0, kTol));
  CHECK(!m.has("ndcg@10"));
  CHECK_THROWS_WITH(m.get("ndcg@10"), Catch::Contains("ndcg@10"));
}

TEST_CASE("metrics average over queries - MRR sums reciprocal ranks / #queries", "[eval]") {
  const std::vector<std::vector<int64_t>> ranked = {iota_ranking(20), iota_ranking(20),
                                                    iota_ranking(20)};
  const std::vector<Relevance> rel = {{{0}, 1}, {{3}, 1}, {{12}, 1}};
  const auto m = compute_retrieval_metrics(ranked, rel);
  CHECK_THAT(m.get("mrr@10"), WithinAbs((1.0 + 0.25 + 0.0) / 3.0, kTol));
  CHECK_THAT(m.get("ndcg@10"), WithinAbs((1.0 + 1.0 / std::log2(5.0) + 0.0) / 3.0, kTol));
  CHECK_THAT(m.get("accuracy@3"), WithinAbs(1.0 / 3.0, kTol));
  CHECK_THAT(m.get("accuracy@5"), WithinAbs(2.0 / 3.0, kTol));
  CHECK_THAT(m.get("recall@100"), WithinAbs(1.0, kTol));
  CHECK_THAT(m.get("map@100"), WithinAbs((1.0 + 0.25 + 1.0 / 13.0) / 3.0, kTol));
  // fixed order of the values: ndcg, mrr, map, recall, precision, accuracy
  REQUIRE(m.values.size() == 1 + 1 + 1 + 5 + 5 + 4);
  CHECK(m.values[0].name() == "ndcg@10");
  CHECK(m.values[1].name() == "mrr@10");
  CHECK(m.values[2].name() == "map@100");
  CHECK(m.values[3].name() == "recall@1");
  CHECK(m.values.back().name() == "accuracy@10");
}

TEST_CASE("a corpus smaller than k: precision still divides by k", "[eval]") {
  const auto m = one_query(iota_ranking(3), {2}, 1);
  CHECK_THAT(m.get("precision@10"), WithinAbs(0.1, kTol));
  CHECK_THAT(m.get("mrr@10"), WithinAbs(1.0 / 3.0, kTol));
}

TEST_CASE("metric inputs are checked", "[eval]") {
  CHECK_THROWS_WITH(compute_retrieval_metrics({}, {}), Catch::Contains("no query"));
  CHECK_THROWS_WITH(compute_retrieval_metrics({{0}}, {Relevance{{}, 0}}),
                    Catch::Contains("relevant count"));
  RetrievalKs bad;
  bad.ndcg = {0};
  CHECK_THROWS_WITH(bad.max_k(), Catch::Contains("k must be >= 1"));
  CHECK(RetrievalKs{}.max_k() == 100);
}

TEST_CASE("dcg_at_k", "[eval]") {
  CHECK(dcg_at_k({}, 10) == 0.0);
  CHECK(dcg_at_k({1, 0, 1}, 10) == 1.5);
  CHECK(dcg_at_k({1, 0, 1}, 2) == 1.0);
}

TEST_CASE("Spearman with ties equals the hand-computed value (scipy's)", "[eval]") {
  CHECK(average_ranks({3, 1, 3, 2, 3}) == std::vector<double>{4, 1, 4, 2, 4});
  // x ranks 1, 2.5, 2.5, 4; y ranks 1, 3, 2, 4: r = 4.5 / sqrt(4.5 * 5)
  CHECK_THAT(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), WithinAbs(4.5 / std::sqrt(22.5), 1e-15));
  CHECK_THAT(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), WithinAbs(0.9486832980505139, 1e-15));
  const std::vector<double> x = {0.5, 2.0, 2.0, 2.0, 3.5, 1.0, 5.0, 4.0};
  const std::vector<double> y = {0.1, 0.4, 0.3, 0.4, 0.9, 0.1, 0.8, 0.8};
  CHECK(average_ranks(x) == std::vector<double>{1, 4, 4, 4, 6, 2, 8, 7});
  CHECK(average_ranks(y) == std::vector<double>{1.5, 4.5, 3, 4.5, 8, 1.5, 6.5, 6.5});
  // deviations of the ranks from 4.5: sum of products 36, sums of squares 40 and 40.5
  // -> r = 36 / sqrt(1620) = 2 / sqrt(5)
  CHECK_THAT(spearman(x, y), WithinAbs(2.0 / std::sqrt(5.0), 1e-15));
  CHECK_THAT(spearman(x, y), WithinAbs(0.8944271909999157, 1e-15));  // scipy 1.17
  CHECK_THAT(pearson(x, y), WithinAbs(0.9316547130477797, 1e-15));   // scipy 1.17
  CHECK_THAT(pearson({1, 2, 3}, {3, 2, 1}), WithinAbs(-1.0, 1e-15));
  CHECK(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));
  CHECK_THROWS_WITH(pearson({1}, {1}), Catch::Contains("at least 2"));
  CHECK_THROWS_WITH(spearman({1, 2}, {1, NAN}), Catch::Contains("not finite"));
}

TEST_CASE("py_strip removes Python's whitespace", "[eval]") {
  CHECK(py_strip("  a b \t\r\n") == "a b");
  CHECK(py_strip("\u00a0\u3000x\u2003\u0085") == "x");
  CHECK(py_strip("\x1c y \x1f") == "y");
  CHECK(py_strip("   ") == "");
  CHECK(py_strip("\u200bz") == "\u200bz");  // zero width space is not whitespace in Python
}
