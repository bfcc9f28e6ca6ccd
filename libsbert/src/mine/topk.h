// Exact top-k inner-product search for hard-negative mining, chunked so that memory stays
// bounded: the (queries x corpus) score matrix is never formed. Each thread takes a chunk of
// query_chunk queries and walks the corpus doc_chunk rows at a time, keeping for each query
// its best k (score, row) pairs in a bounded heap; memory beyond the inputs and the (nq, k)
// result is threads x query_chunk x k entries.
//
// Order: score descending, then row ascending (ties go to the earlier row). This is a strict
// total order, so the top-k set and its order do not depend on the chunk sizes or the thread
// count. Each score is one call of dot() below, whose summation order is fixed (8 interleaved
// partial sums combined pairwise), so the same pair scores the same bits wherever it is
// computed. (The evaluation code has its own search; they are to be unified.)
#pragma once

#include <cstdint>
#include <vector>

namespace sbert::mine {

// The one inner-product kernel of mining: fixed summation order, any n.
float dot(const float* a, const float* b, int64_t n);

// L2-normalizes each row of x (rows, dim) in place, so that dot() is the cosine. A zero row
// stays zero.
void l2_normalize_rows(float* x, int64_t rows, int64_t dim);

struct TopKOptions {
  int64_t query_chunk = 64;    // queries per task
  int64_t doc_chunk = 4096;    // corpus rows scored before moving to the next query of a chunk
  int threads = 0;             // 0: OpenMP's default
};

struct TopK {
  int64_t rows = 0;  // queries
  int64_t k = 0;     // entries per row: min(k requested, corpus rows)
  std::vector<float> scores;     // (rows, k), each row descending
  std::vector<int64_t> indices;  // (rows, k) corpus rows
  const float* row_scores(int64_t r) const { return scores.data() + r * k; }
  const int64_t* row_indices(int64_t r) const { return indices.data() + r * k; }
};

// queries (nq, dim) and docs (nd, dim), row-major. Throws on k < 0, a non-finite score, or
// chunk sizes < 1.
TopK exact_topk(const float* queries, int64_t nq, const float* docs, int64_t nd, int64_t dim,
                int64_t k, const TopKOptions& options = {});

}  // namespace sbert::mine
