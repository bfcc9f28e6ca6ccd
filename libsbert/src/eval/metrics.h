// Retrieval and STS metrics with exactly the definitions of sentence-transformers'
// InformationRetrievalEvaluator and EmbeddingSimilarityEvaluator (scipy's pearsonr/spearmanr).
// See docs/evaluation.md for the formulas.
#pragma once

#include "sbert/eval.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sbert::eval {


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
