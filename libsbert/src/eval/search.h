// Exact (brute-force) nearest-neighbour search by cosine similarity, the search of
// sentence-transformers' InformationRetrievalEvaluator: scores are dot products of
// L2-normalized float32 embeddings, and the hits of a query are ordered by (score descending,
// tie key ascending). With the tie key = the position of the corpus id in ascending string
// order, the ranking is ST's (-score, corpus_id) sort, independent of how the corpus is chunked.
//
//   ExactSearch s(query_emb.data(), nq, dim, /*k=*/100, threads);
//   for each corpus chunk: s.add(chunk_emb, n, first_doc, tie_keys + first_doc);
//   auto hits = s.results();   // per query, best first
//
// Scores come from a fixed-order dot product (not BLAS), so each (query, document) score is
// bitwise the same whatever the chunking, batch or thread count: ties are exact and stable.
// Memory: the query embeddings, k hits per query and a block of 1,024 normalized documents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sbert::eval {

struct Hit {
  int64_t doc = 0;   // corpus index
  float score = 0;   // cosine similarity
};

// Rows scaled to unit L2 norm: x / max(||x||, 1e-12) (torch.nn.functional.normalize), norm
// accumulated in double.
void l2_normalize_rows(float* data, int64_t rows, int64_t dim);

// Position of each id in ascending byte-wise order (= Python's code point order for UTF-8):
// the tie key giving sentence-transformers' (-score, corpus_id) order.
std::vector<int64_t> id_order_keys(const std::vector<std::string>& ids);

class ExactSearch {
 public:
  // queries: (nq, dim), copied and L2-normalized. threads: 0 = all cores.
  ExactSearch(const float* queries, int64_t nq, int64_t dim, int64_t k, int threads = 0);

  // Scores documents first_doc .. first_doc + n - 1 (docs: (n, dim), normalized here on a copy)
  // against every query. tie_keys[i]: the tie key of document first_doc + i (lower wins ties).
  // Throws on a NaN score.
  void add(const float* docs, int64_t n, int64_t first_doc, const int64_t* tie_keys);

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
  int threads_;
  std::vector<std::vector<Cand>> heaps_;  // per query: a heap with the worst kept hit on top
};

// One-shot helper: the k best documents of every query over the whole corpus.
std::vector<std::vector<Hit>> exact_search(const float* queries, int64_t nq, const float* docs,
                                           int64_t nd, int64_t dim, int64_t k,
                                           const std::vector<int64_t>& tie_keys, int threads = 0);

}  // namespace sbert::eval
