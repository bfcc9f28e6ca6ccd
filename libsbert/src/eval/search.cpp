#include "eval/search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"
#include "core/context.h"

namespace sbert::eval {

namespace {

constexpr int kGroup = 4;  // queries sharing each document load
constexpr int kLanes = 8;  // partial sums per dot product

// Dot products of R consecutive query rows with one document. Every (query, document) pair
// is summed in the same fixed order whatever R, the block or the thread: 8 lane sums over the
// dimensions in order, a fixed reduction tree, then the tail. So a score never depends on
// chunking, batching or thread count, and ties are exact ties.
template <int R>
void dot_rows(const float* q, int64_t dim, const float* d, float* out) {
  float acc[R][kLanes] = {};
  const int64_t main = dim / kLanes * kLanes;
  for (int64_t i = 0; i < main; i += kLanes) {
    for (int r = 0; r < R; ++r) {
      const float* qr = q + r * dim + i;
      for (int l = 0; l < kLanes; ++l) acc[r][l] += qr[l] * d[i + l];
    }
  }
  for (int r = 0; r < R; ++r) {
    float tail = 0;
    for (int64_t i = main; i < dim; ++i) tail += q[r * dim + i] * d[i];
    const float* a = acc[r];
    out[r] = (((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))) + tail;
  }
}

void dot_group(int rows, const float* q, int64_t dim, const float* d, float* out) {
  switch (rows) {
    case 4:
      dot_rows<4>(q, dim, d, out);
      break;
    case 3:
      dot_rows<3>(q, dim, d, out);
      break;
    case 2:
      dot_rows<2>(q, dim, d, out);
      break;
    default:
      dot_rows<1>(q, dim, d, out);
      break;
  }
}

}  // namespace

float dot(const float* a, const float* b, int64_t dim) {
  float out;
  dot_rows<1>(a, dim, b, &out);
  return out;
}

void l2_normalize_rows(float* data, int64_t rows, int64_t dim) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* x = data + r * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    const float norm = std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
    for (int64_t i = 0; i < dim; ++i) x[i] /= norm;
  }
}

std::vector<int64_t> id_order_keys(const std::vector<std::string>& ids) {
  std::vector<int64_t> order(ids.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return ids[static_cast<size_t>(a)] < ids[static_cast<size_t>(b)];
  });
  std::vector<int64_t> keys(ids.size());
  for (size_t i = 0; i < order.size(); ++i) {
    keys[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
  }
  return keys;
}

ExactSearch::ExactSearch(const float* queries, int64_t nq, int64_t dim, int64_t k,
                         const SearchOptions& options)
    : nq_(nq),
      dim_(dim),
      k_(k),
      opt_(options),
      heaps_(static_cast<size_t>(std::max<int64_t>(nq, 0))) {
  SBERT_CHECK(nq >= 0 && dim > 0 && k > 0, "[search] bad sizes (queries ", nq, ", dim ", dim,
              ", k ", k, ")");
  SBERT_CHECK(options.doc_block >= 1 && options.query_block >= 1 && options.threads >= 0,
              "[search] doc_block and query_block must be >= 1 and threads >= 0, got doc_block ",
              options.doc_block, ", query_block ", options.query_block, ", threads ",
              options.threads);
  queries_.assign(queries, queries + nq * dim);
  if (opt_.normalize) l2_normalize_rows(queries_.data(), nq_, dim_);
}

void ExactSearch::add(const float* docs, int64_t n, int64_t first_doc, const int64_t* tie_keys) {
  if (n <= 0 || nq_ == 0) return;
  // better(a, b): a ranks before b. As the heap comparator it keeps the worst hit on top.
  const auto better = [](const Cand& a, const Cand& b) {
    return a.score > b.score || (a.score == b.score && a.tie < b.tie);
  };
  const int threads = cpu_thread_count(opt_.threads);
  const int64_t qb = opt_.query_block;
  const int64_t tasks = (nq_ + qb - 1) / qb;
  std::vector<float> copy;
  for (int64_t d0 = 0; d0 < n; d0 += opt_.doc_block) {
    const int64_t nd = std::min(opt_.doc_block, n - d0);
    const float* block = docs + d0 * dim_;
    if (opt_.normalize) {
      copy.assign(block, block + nd * dim_);
      l2_normalize_rows(copy.data(), nd, dim_);
      block = copy.data();
    }
    int64_t bad_query = -1, bad_doc = -1;
    float bad_score = 0;
#pragma omp parallel num_threads(threads)
    {
      std::vector<float> scores(static_cast<size_t>(kGroup * nd));  // (kGroup, nd)
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tasks; ++t) {
        const int64_t t1 = std::min(nq_, (t + 1) * qb);
        for (int64_t q0 = t * qb; q0 < t1; q0 += kGroup) {
          const int rows = static_cast<int>(std::min<int64_t>(kGroup, t1 - q0));
          float out[kGroup];
          for (int64_t j = 0; j < nd; ++j) {
            dot_group(rows, queries_.data() + q0 * dim_, dim_, block + j * dim_, out);
            for (int r = 0; r < rows; ++r) scores[static_cast<size_t>(r * nd + j)] = out[r];
          }
          for (int r = 0; r < rows; ++r) {
            auto& heap = heaps_[static_cast<size_t>(q0 + r)];
            const float* s = scores.data() + r * nd;
            for (int64_t j = 0; j < nd; ++j) {
              if (!std::isfinite(s[j])) {
#pragma omp critical(sbert_search_error)
                if (bad_query < 0 || q0 + r < bad_query) {
                  bad_query = q0 + r;
                  bad_doc = first_doc + d0 + j;
                  bad_score = s[j];
                }
                break;
              }
              const int64_t doc = first_doc + d0 + j;
              const Cand c{s[j], tie_keys ? tie_keys[d0 + j] : doc, doc};
              if (static_cast<int64_t>(heap.size()) < k_) {
                heap.push_back(c);
                std::push_heap(heap.begin(), heap.end(), better);
              } else if (better(c, heap.front())) {
                std::pop_heap(heap.begin(), heap.end(), better);
                heap.back() = c;
                std::push_heap(heap.begin(), heap.end(), better);
              }
            }
          }
        }
      }
    }
    SBERT_CHECK(bad_query < 0, "[search] the score of query ", bad_query, " and document ", bad_doc,
                " is not finite (", bad_score, "): an embedding holds NaN or infinity");
  }
}

std::vector<std::vector<Hit>> ExactSearch::results() const {
  const auto better = [](const Cand& a, const Cand& b) {
    return a.score > b.score || (a.score == b.score && a.tie < b.tie);
  };
  std::vector<std::vector<Hit>> out(heaps_.size());
  for (size_t q = 0; q < heaps_.size(); ++q) {
    std::vector<Cand> c = heaps_[q];
    std::sort(c.begin(), c.end(), better);
    out[q].reserve(c.size());
    for (const Cand& x : c) out[q].push_back({x.doc, x.score});
  }
  return out;
}

std::vector<std::vector<Hit>> exact_search(const float* queries, int64_t nq, const float* docs,
                                           int64_t nd, int64_t dim, int64_t k,
                                           const std::vector<int64_t>& tie_keys,
                                           const SearchOptions& options) {
  SBERT_CHECK(tie_keys.empty() || static_cast<int64_t>(tie_keys.size()) == nd, "[search] ",
              tie_keys.size(), " tie keys for ", nd, " documents");
  ExactSearch s(queries, nq, dim, k, options);
  s.add(docs, nd, 0, tie_keys.empty() ? nullptr : tie_keys.data());
  return s.results();
}

}  // namespace sbert::eval
