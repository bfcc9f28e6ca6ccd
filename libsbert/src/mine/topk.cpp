#include "mine/topk.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"

namespace sbert::mine {

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  }
  for (int l = 0; i < n; ++i, ++l) acc[l] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void l2_normalize_rows(float* x, int64_t rows, int64_t dim) {
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * dim;
    const float norm = std::sqrt(dot(v, v, dim));
    if (norm > 0.0f) {
      const float inv = 1.0f / norm;
      for (int64_t j = 0; j < dim; ++j) v[j] *= inv;
    }
  }
}

namespace {

struct Entry {
  float score;
  int64_t index;
};

// a ranks before b: higher score, then lower row.
inline bool before(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

}  // namespace

TopK exact_topk(const float* queries, int64_t nq, const float* docs, int64_t nd, int64_t dim,
                int64_t k, const TopKOptions& options) {
  SBERT_CHECK(k >= 0, "[mine] top-k: k must be >= 0, got ", k);
  SBERT_CHECK(nq >= 0 && nd >= 0 && dim > 0, "[mine] top-k: bad shapes (", nq, ", ", nd, ", ",
              dim, ")");
  SBERT_CHECK(options.query_chunk >= 1 && options.doc_chunk >= 1,
              "[mine] top-k: chunk sizes must be >= 1, got query_chunk ", options.query_chunk,
              ", doc_chunk ", options.doc_chunk);
  TopK out;
  out.rows = nq;
  out.k = std::min(k, nd);
  out.scores.assign(static_cast<size_t>(nq * out.k), 0.0f);
  out.indices.assign(static_cast<size_t>(nq * out.k), -1);
  if (nq == 0 || out.k == 0) return out;

  const int64_t kk = out.k;
  const int64_t qc = options.query_chunk, dc = options.doc_chunk;
  const int64_t nchunks = (nq + qc - 1) / qc;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  std::string error;  // first non-finite score, reported after the parallel region

#pragma omp parallel num_threads(threads)
  {
    // Heaps with the worst kept entry at the front (std heap ordered by `before`).
    std::vector<std::vector<Entry>> heaps;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t q0 = c * qc, q1 = std::min(nq, q0 + qc);
      heaps.assign(static_cast<size_t>(q1 - q0), {});
      for (auto& h : heaps) h.reserve(static_cast<size_t>(kk));
      bool bad = false;
      for (int64_t d0 = 0; d0 < nd && !bad; d0 += dc) {
        const int64_t d1 = std::min(nd, d0 + dc);
        for (int64_t q = q0; q < q1 && !bad; ++q) {
          const float* qv = queries + q * dim;
          auto& h = heaps[static_cast<size_t>(q - q0)];
          for (int64_t d = d0; d < d1; ++d) {
            const Entry e{dot(qv, docs + d * dim, dim), d};
            if (!std::isfinite(e.score)) {
#pragma omp critical(sbert_mine_topk_error)
              if (error.empty())
                error = cat("[mine] top-k: score of query row ", q, " and corpus row ", d,
                            " is not finite (", e.score, ")");
              bad = true;
              break;
            }
            if (static_cast<int64_t>(h.size()) < kk) {
              h.push_back(e);
              std::push_heap(h.begin(), h.end(), before);
            } else if (before(e, h.front())) {
              std::pop_heap(h.begin(), h.end(), before);
              h.back() = e;
              std::push_heap(h.begin(), h.end(), before);
            }
          }
        }
      }
      if (!bad) {
        for (int64_t q = q0; q < q1; ++q) {
          auto& h = heaps[static_cast<size_t>(q - q0)];
          std::sort(h.begin(), h.end(), before);
          for (int64_t j = 0; j < kk; ++j) {
            out.scores[static_cast<size_t>(q * kk + j)] = h[static_cast<size_t>(j)].score;
            out.indices[static_cast<size_t>(q * kk + j)] = h[static_cast<size_t>(j)].index;
          }
        }
      }
    }
  }
  SBERT_CHECK(error.empty(), error);
  return out;
}

}  // namespace sbert::mine
