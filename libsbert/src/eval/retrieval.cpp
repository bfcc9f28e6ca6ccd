#include "eval/retrieval.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace sbert::eval {

namespace {

// The first d columns of (rows, dim) row-major x: (rows, d).
std::vector<float> first_columns(const float* x, int64_t rows, int64_t dim, int64_t d) {
  std::vector<float> out(static_cast<size_t>(rows * d));
  for (int64_t r = 0; r < rows; ++r) std::copy_n(x + r * dim, d, out.begin() + r * d);
  return out;
}

}  // namespace

std::vector<std::vector<std::vector<Hit>>> retrieve_dims(const Model& model, const BeirData& data,
                                                         const RetrievalOptions& options,
                                                         const std::vector<int>& dims) {
  const int64_t k = options.ks.max_k();
  SBERT_CHECK(options.corpus_chunk_size > 0, "[eval] corpus_chunk_size must be positive, got ",
              options.corpus_chunk_size);
  SBERT_CHECK(data.corpus_ids.size() == data.corpus_texts.size() &&
                  data.query_ids.size() == data.query_texts.size(),
              "[eval] inconsistent BeirData");
  SBERT_CHECK(!dims.empty(), "[eval] no embedding dimensions to evaluate");
  const auto embed = [&](const std::vector<std::string>& texts, const EmbedOptions& eo) {
    return options.embedder ? options.embedder(texts, eo) : model.embed(texts, eo);
  };
  EmbedOptions eo = options.embed;
  eo.prefix = options.query_prefix;
  // The caller's callback sees this evaluation's stages, not the per-call "embed" ones.
  const int64_t nq = static_cast<int64_t>(data.query_texts.size());
  if (options.progress) {
    options.progress({"embed queries", 0, nq});
    eo.progress = [&](const Progress& p) { options.progress({"embed queries", p.done, nq}); };
  } else {
    eo.progress = nullptr;
  }
  const Embeddings q = embed(data.query_texts, eo);
  // One search per truncation (0: as embedded), each fed the first d columns of the same
  // embeddings: sentence-transformers truncates the model's output, then cos_sim normalizes.
  std::vector<int64_t> width;
  for (const int d : dims) {
    SBERT_CHECK(d >= 0 && d <= q.dim, "[eval] truncate dimension ", d,
                " is out of range: the embeddings have ", q.dim, " dimensions (1..", q.dim, ")");
    for (const int64_t w : width) {
      SBERT_CHECK(w != (d == 0 ? q.dim : d), "[eval] dimension ", w, " is listed twice");
    }
    width.push_back(d == 0 ? q.dim : d);
  }
  SearchOptions so;
  so.threads = options.embed.threads;
  std::vector<ExactSearch> searches;
  searches.reserve(width.size());
  for (const int64_t w : width) {
    if (w == q.dim) {
      searches.emplace_back(q.data.data(), q.rows, q.dim, k, so);
    } else {
      const std::vector<float> qt = first_columns(q.data.data(), q.rows, q.dim, w);
      searches.emplace_back(qt.data(), q.rows, w, k, so);
    }
  }

  const std::vector<int64_t> tie_keys = id_order_keys(data.corpus_ids);
  eo.prefix = options.passage_prefix;
  const int64_t n = static_cast<int64_t>(data.corpus_texts.size());
  if (options.progress) options.progress({"embed corpus", 0, n});
  for (int64_t start = 0; start < n; start += options.corpus_chunk_size) {
    const int64_t end = std::min(n, start + options.corpus_chunk_size);
    if (options.progress) {
      eo.progress = [&, start](const Progress& p) {
        options.progress({"embed corpus", start + p.done, n});
      };
    }
    const std::vector<std::string> chunk(data.corpus_texts.begin() + start,
                                         data.corpus_texts.begin() + end);
    const Embeddings d = embed(chunk, eo);
    SBERT_CHECK(d.dim == q.dim, "[eval] corpus embeddings have ", d.dim,
                " dimensions but the query embeddings ", q.dim);
    for (size_t i = 0; i < searches.size(); ++i) {
      if (width[i] == d.dim) {
        searches[i].add(d.data.data(), d.rows, start, tie_keys.data() + start);
      } else {
        const std::vector<float> dt = first_columns(d.data.data(), d.rows, d.dim, width[i]);
        searches[i].add(dt.data(), d.rows, start, tie_keys.data() + start);
      }
    }
  }
  std::vector<std::vector<std::vector<Hit>>> out;
  out.reserve(searches.size());
  for (const ExactSearch& s : searches) out.push_back(s.results());
  return out;
}

std::vector<std::vector<Hit>> retrieve(const Model& model, const BeirData& data,
                                       const RetrievalOptions& options) {
  return std::move(retrieve_dims(model, data, options, {0}).front());
}

RetrievalMetrics score_hits(const std::vector<std::vector<Hit>>& hits, const BeirData& data,
                            const RetrievalKs& ks) {
  std::vector<std::vector<int64_t>> ranked(hits.size());
  for (size_t q = 0; q < hits.size(); ++q) {
    ranked[q].reserve(hits[q].size());
    for (const Hit& h : hits[q]) ranked[q].push_back(h.doc);
  }
  RetrievalMetrics m = compute_retrieval_metrics(ranked, data.relevance, ks);
  m.corpus = static_cast<int64_t>(data.corpus_ids.size());
  return m;
}

RetrievalMetrics evaluate_retrieval(const Model& model, const BeirData& data,
                                    const RetrievalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto hits = retrieve(model, data, options);
  RetrievalMetrics m = score_hits(hits, data, options.ks);
  m.dim = options.embed.truncate_dim > 0 ? options.embed.truncate_dim : model.dim();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

std::vector<RetrievalMetrics> evaluate_retrieval_matryoshka(const Model& model,
                                                            const BeirData& data,
                                                            const std::vector<int>& dims,
                                                            const RetrievalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const int d : dims) {
    SBERT_CHECK(d >= 1, "[eval] matryoshka dimension ", d, " must be at least 1");
  }
  const auto hits = retrieve_dims(model, data, options, dims);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<RetrievalMetrics> out;
  for (size_t i = 0; i < dims.size(); ++i) {
    out.push_back(score_hits(hits[i], data, options.ks));
    out.back().dim = dims[i];
    out.back().seconds = secs;
  }
  return out;
}

}  // namespace sbert::eval
