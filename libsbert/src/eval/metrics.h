// Retrieval and STS metrics with exactly the definitions of sentence-transformers'
// InformationRetrievalEvaluator and EmbeddingSimilarityEvaluator (scipy's pearsonr/spearmanr).
// See docs/evaluation.md for the formulas.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sbert::eval {

// Which cut-offs to report; the defaults are sentence-transformers' plus recall/precision@100.
struct RetrievalKs {
  std::vector<int> accuracy{1, 3, 5, 10};
  std::vector<int> precision_recall{1, 3, 5, 10, 100};
  std::vector<int> mrr{10};
  std::vector<int> ndcg{10};
  std::vector<int> map{100};
  int max_k() const;  // hits needed per query; throws if any k is < 1
};

// One (metric, k, value) per reported number, in a fixed order: ndcg, mrr, map, recall,
// precision, accuracy, each by ascending k.
struct MetricValue {
  std::string metric;  // "ndcg", "mrr", "map", "recall", "precision", "accuracy"
  int k = 0;
  double value = 0;
  std::string name() const { return metric + "@" + std::to_string(k); }  // "ndcg@10"
};

struct RetrievalMetrics {
  std::vector<MetricValue> values;
  int64_t queries = 0;  // queries evaluated (those with at least one relevant document)
  int64_t corpus = 0;   // documents searched
  double seconds = 0;   // wall time of embedding + search (evaluate_retrieval)

  // The value of "ndcg@10" etc.; throws if it was not computed.
  double get(const std::string& name) const;
  bool has(const std::string& name) const;
};

// Relevance judgements of one query: the corpus indices of its relevant documents (any order,
// no duplicates) and how many relevant ids its qrels name, counting ids absent from the corpus
// (those can never be retrieved but count in recall, IDCG and MAP denominators, as in
// sentence-transformers and pytrec_eval).
struct Relevance {
  std::vector<int64_t> docs;
  int64_t count = 0;  // >= docs.size(), >= 1
};

// ranked[q]: corpus indices of the hits of query q, best first (at least max_k of them when the
// corpus has that many). Binary relevance. Every query must have rel[q].count >= 1.
RetrievalMetrics compute_retrieval_metrics(const std::vector<std::vector<int64_t>>& ranked,
                                           const std::vector<Relevance>& rel,
                                           const RetrievalKs& ks = {});

// sum_{i < min(n, k)} relevances[i] / log2(i + 2), as InformationRetrievalEvaluator.compute_dcg_at_k.
double dcg_at_k(const std::vector<int>& relevances, int k);

// 1-based ranks, ties get the average of the ranks they span (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& x);
// Pearson's r as scipy.stats.pearsonr (centred, scaled by the max |deviation|, then normalized);
// NaN when either input is constant; throws on sizes < 2 or unequal.
double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Spearman's rho: Pearson's r of the average ranks (scipy.stats.spearmanr).
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace sbert::eval
