// Retrieval evaluation of a model on a BEIR data set, as sentence-transformers'
// InformationRetrievalEvaluator with cosine similarity: embed the queries (with query_prefix),
// embed the corpus chunk by chunk (with passage_prefix), keep the max_k best documents of every
// query by exact search, then compute NDCG / MRR / MAP / recall / precision / accuracy.
//
//   auto data = sbert::eval::read_beir("data/scifact", "test");
//   auto m = sbert::eval::evaluate_retrieval(model, data, {});
//   double ndcg = m.get("ndcg@10");
#pragma once

#include "sbert/eval.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/beir.h"
#include "eval/metrics.h"
#include "eval/search.h"
#include "sbert/model.h"

namespace sbert::eval {


// The max_k best hits of every evaluated query (data.query_ids order), best first; ties in score
// are broken by ascending corpus id (byte-wise), as sentence-transformers does.
std::vector<std::vector<Hit>> retrieve(const Model& model, const BeirData& data,
                                       const RetrievalOptions& options);

// retrieve() for several truncations of the same embeddings: per entry of dims (each 1..the
// embedding dimension, 0: all of it, no repeats), the hits of searching the first d dimensions
// (cosine: renormalized), as sentence-transformers' InformationRetrievalEvaluator(truncate_dim=d).
// Queries and corpus are embedded once.
std::vector<std::vector<std::vector<Hit>>> retrieve_dims(const Model& model, const BeirData& data,
                                                         const RetrievalOptions& options,
                                                         const std::vector<int>& dims);

// Metrics of given hits (as from retrieve) against data's relevance judgements.
RetrievalMetrics score_hits(const std::vector<std::vector<Hit>>& hits, const BeirData& data,
                            const RetrievalKs& ks = {});

}  // namespace sbert::eval
