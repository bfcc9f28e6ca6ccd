// Evaluation of a sentence encoder, with sentence-transformers' definitions (docs/evaluation.md):
// retrieval metrics (InformationRetrievalEvaluator: NDCG, MRR, MAP, recall, precision, accuracy)
// on a BEIR folder or on queries / corpus / qrels held in memory, and STS Spearman
// (EmbeddingSimilarityEvaluator).
//
//   auto data = sbert::eval::read_beir("data/scifact", "test");
//   sbert::eval::RetrievalOptions o;
//   o.query_prefix = "query: ";
//   double ndcg = sbert::eval::evaluate_retrieval(model, data, o).get("ndcg@10");
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "sbert/export.h"
#include "sbert/model.h"

namespace sbert::eval {

// Which cut-offs to report; the defaults are sentence-transformers' plus recall/precision@100.
struct SBERT_API RetrievalKs {
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

struct SBERT_API RetrievalMetrics {
  std::vector<MetricValue> values;
  int64_t queries = 0;  // queries evaluated (those with at least one relevant document)
  int64_t corpus = 0;   // documents searched
  int64_t dim = 0;      // embedding dimensions scored (less than the model's when truncated)
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

struct BeirOptions {
  // Accept qrels naming ids absent from corpus.jsonl / queries.jsonl, counting them as
  // sentence-transformers does (see above). sbert-eval --allow-unknown-ids.
  bool allow_unknown_ids = false;
};

struct BeirDoc {
  std::string id, title, text;
};
struct BeirQuery {
  std::string id, text;
};
struct BeirQrel {
  std::string query_id, doc_id;
  double score = 0;
  int64_t line = 0;  // 1-based line in the qrels file (0: not from a file), for messages
};

// The evaluation set: what sentence-transformers' InformationRetrievalEvaluator evaluates.
struct BeirData {
  std::vector<std::string> corpus_ids;
  std::vector<std::string> corpus_texts;  // (title + " " + text).strip()
  std::vector<std::string> query_ids;     // evaluated queries only, in queries.jsonl order
  std::vector<std::string> query_texts;
  std::vector<Relevance> relevance;  // per evaluated query

  // What was read and what was left out.
  int64_t queries_read = 0;         // records in queries.jsonl
  int64_t queries_skipped = 0;      // queries without any relevant document in the split
  int64_t qrels_read = 0;           // judgement lines in the qrels file
  int64_t qrels_not_relevant = 0;   // (query, doc) pairs whose final score is <= 0
  int64_t qrels_unknown_query = 0;  // judgement lines naming a query not in queries.jsonl
  int64_t qrels_unknown_doc = 0;    // relevant pairs naming a document not in the corpus
};

// read_beir_set + evaluation_set.
SBERT_API BeirData read_beir(const std::filesystem::path& dir, const std::string& split,
                   const BeirOptions& options = {});

// index_beir + evaluation_set, for callers holding their data elsewhere.
SBERT_API BeirData assemble_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                       std::vector<BeirQrel> qrels, const BeirOptions& options = {});

struct RetrievalOptions {
  // batch_size, max_seq_length, device, threads; truncate_dim: score the first truncate_dim
  // dimensions, as InformationRetrievalEvaluator(truncate_dim=...) (prefix: unused).
  EmbedOptions embed;
  std::string query_prefix;    // prepended to every query, e.g. "query: " (e5); default none
  std::string passage_prefix;  // prepended to every document, e.g. "passage: "
  int64_t corpus_chunk_size = 50000;  // documents embedded at a time (bounds memory)
  RetrievalKs ks;
  // Embeds texts (rows in order) in place of model.embed when set: the trainer's data-parallel
  // validation embeds this rank's share and gathers the others' (train/trainer.cpp).
  std::function<Embeddings(const std::vector<std::string>& texts, const EmbedOptions& options)>
      embedder;
  // Stages "embed queries" then "embed corpus" (done/total in texts, per batch; the search
  // runs with the corpus chunks).
  ProgressCallback progress;
};

SBERT_API RetrievalMetrics evaluate_retrieval(const Model& model, const BeirData& data,
                                    const RetrievalOptions& options = {});

// Matryoshka evaluation: the metrics at each truncation of dims (each 1..the embedding
// dimension, no repeats), in that order: what sentence-transformers'
// InformationRetrievalEvaluator(truncate_dim=d) gives for each d (cosine of the first d
// dimensions). Queries and corpus are embedded once, at the full dimension. Every element's
// seconds is the whole evaluation's.
SBERT_API std::vector<RetrievalMetrics> evaluate_retrieval_matryoshka(
    const Model& model, const BeirData& data, const std::vector<int>& dims,
    const RetrievalOptions& options = {});

struct StsData {
  std::vector<std::string> sentences1, sentences2;
  std::vector<double> scores;  // gold similarity
};

SBERT_API StsData read_sts(const std::filesystem::path& file);

struct StsMetrics {
  double spearman = 0;  // NaN when either side is constant
  double pearson = 0;
  int64_t pairs = 0;
  int64_t dim = 0;  // embedding dimensions compared (options.truncate_dim, else the model's)
  double seconds = 0;
};

// options.truncate_dim: as EmbeddingSimilarityEvaluator(truncate_dim=...).
SBERT_API StsMetrics evaluate_sts(const Model& model, const StsData& data, const EmbedOptions& options = {});
// The correlations at each truncation of dims (1..the embedding dimension, no repeats), in that
// order, from one embedding of the pairs: EmbeddingSimilarityEvaluator(truncate_dim=d) per d.
SBERT_API std::vector<StsMetrics> evaluate_sts_matryoshka(const Model& model, const StsData& data,
                                                          const std::vector<int>& dims,
                                                          const EmbedOptions& options = {});

// The exact top-k search (hard-negative mining uses it too).
struct SearchOptions {
  // L2-normalize queries and documents (on copies) so that scores are cosines. false: the
  // inputs are scored as given (callers that normalized already, and want dot() of their own
  // rows to reproduce the scores bit for bit).
  bool normalize = true;
  int threads = 0;           // 0: all cores
  int64_t doc_block = 1024;  // documents scored per pass over the queries
  int64_t query_block = 16;  // queries per parallel task
};

}  // namespace sbert::eval
