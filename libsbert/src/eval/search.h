// Exact (brute-force) top-k search by inner product, the one search of the library: retrieval
// evaluation (sentence-transformers' InformationRetrievalEvaluator, cosine) and hard-negative
// mining both use it.
//
//   ExactSearch s(query_emb.data(), nq, dim, /*k=*/100, {});
//   for each corpus chunk: s.add(chunk_emb, n, first_doc, tie_keys + first_doc);
//   auto hits = s.results();   // per query, best first
//
// Order: score descending, then tie key ascending, a strict total order when the tie keys are
// distinct. With the tie key = the position of the corpus id in ascending string order
// (id_order_keys) the ranking is sentence-transformers' (-score, corpus_id) sort; without tie
// keys it is the corpus row.
//
// Scores come from dot() below, a fixed-order dot product (not BLAS), so each (query, document)
// score is bitwise the same whatever the chunking, block sizes or thread count: ties are exact,
// and the result does not depend on how the corpus was fed or split. The (queries x corpus)
// score matrix is never formed. Memory: the query embeddings, k candidates per query (24 bytes
// each), per thread 4 x doc_block scores, and with normalize a copy of doc_block documents.
#pragma once

#include "sbert/eval.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sbert::eval {

struct Hit {
  int64_t doc = 0;  // corpus index
  float score = 0;  // inner product (the cosine when normalized)
};

// The search's inner product: 8 lane sums over the dimensions in order, a fixed reduction tree,
// then the tail. Exactly the bits of every score the search computes for the pair.
float dot(const float* a, const float* b, int64_t dim);

// Rows scaled to unit L2 norm: x / max(||x||, 1e-12) (torch.nn.functional.normalize), norm
// accumulated in double. A zero row stays zero.
void l2_normalize_rows(float* data, int64_t rows, int64_t dim);

// Position of each id in ascending byte-wise order (= Python's code point order for UTF-8):
// the tie key giving sentence-transformers' (-score, corpus_id) order.
std::vector<int64_t> id_order_keys(const std::vector<std::string>& ids);


class ExactSearch {
 public:
  // queries: (nq, dim), copied. k >= 1.
  ExactSearch(const float* queries, int64_t nq, int64_t dim, int64_t k,
              const SearchOptions& options = {});

  // Scores documents first_doc .. first_doc + n - 1 (docs: (n, dim)) against every query.
  // tie_keys[i]: the tie key of document first_doc + i (lower wins ties); nullptr: the document
  // index itself. Throws, naming the query and document, on a non-finite score.
  void add(const float* docs, int64_t n, int64_t first_doc, const int64_t* tie_keys = nullptr);

  // The k best hits of every query (fewer when fewer documents were added), best first.
  std::vector<std::vector<Hit>> results() const;

  int64_t queries() const { return nq_; }
  int64_t k() const { return k_; }

 private:
  struct Cand {
    float score;
    int64_t tie;
    int64_t doc;
  };
  std::vector<float> queries_;
  int64_t nq_, dim_, k_;
  SearchOptions opt_;
  std::vector<std::vector<Cand>> heaps_;  // per query: a heap with the worst kept hit on top
};

// One-shot helper: the k best documents of every query over the whole corpus. tie_keys: one
// per document, or empty for the document index.
std::vector<std::vector<Hit>> exact_search(const float* queries, int64_t nq, const float* docs,
                                           int64_t nd, int64_t dim, int64_t k,
                                           const std::vector<int64_t>& tie_keys,
                                           const SearchOptions& options = {});

}  // namespace sbert::eval
