// Retrieval evaluation of a model on a BEIR data set, as sentence-transformers'
// InformationRetrievalEvaluator with cosine similarity: embed the queries (with query_prefix),
// embed the corpus chunk by chunk (with passage_prefix), keep the max_k best documents of every
// query by exact search, then compute NDCG / MRR / MAP / recall / precision / accuracy.
//
//   auto data = sbert::eval::read_beir("data/scifact", "test");
//   auto m = sbert::eval::evaluate_retrieval(model, data, {});
//   double ndcg = m.get("ndcg@10");
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/beir.h"
#include "eval/metrics.h"
#include "eval/search.h"
#include "sbert/model.h"

namespace sbert::eval {

struct RetrievalOptions {
  EmbedOptions embed;          // batch_size, max_seq_length, device, threads (prefix: unused)
  std::string query_prefix;    // prepended to every query, e.g. "query: " (e5); default none
  std::string passage_prefix;  // prepended to every document, e.g. "passage: "
  int64_t corpus_chunk_size = 50000;  // documents embedded at a time (bounds memory)
  RetrievalKs ks;
  // Embeds texts (rows in order) in place of model.embed when set: the trainer's data-parallel
  // validation embeds this rank's share and gathers the others' (train/trainer.cpp).
  std::function<Embeddings(const std::vector<std::string>& texts, const EmbedOptions& options)>
      embedder;
};

// The max_k best hits of every evaluated query (data.query_ids order), best first; ties in score
// are broken by ascending corpus id (byte-wise), as sentence-transformers does.
std::vector<std::vector<Hit>> retrieve(const Model& model, const BeirData& data,
                                       const RetrievalOptions& options);

RetrievalMetrics evaluate_retrieval(const Model& model, const BeirData& data,
                                    const RetrievalOptions& options = {});

// Metrics of given hits (as from retrieve) against data's relevance judgements.
RetrievalMetrics score_hits(const std::vector<std::vector<Hit>>& hits, const BeirData& data,
                            const RetrievalKs& ks = {});

}  // namespace sbert::eval
