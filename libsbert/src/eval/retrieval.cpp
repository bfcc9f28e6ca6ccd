#include "eval/retrieval.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace sbert::eval {

std::vector<std::vector<Hit>> retrieve(const Model& model, const BeirData& data,
                                       const RetrievalOptions& options) {
  const int64_t k = options.ks.max_k();
  SBERT_CHECK(options.corpus_chunk_size > 0, "[eval] corpus_chunk_size must be positive, got ",
              options.corpus_chunk_size);
  SBERT_CHECK(data.corpus_ids.size() == data.corpus_texts.size() &&
                  data.query_ids.size() == data.query_texts.size(),
              "[eval] inconsistent BeirData");
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
  SearchOptions so;
  so.threads = options.embed.threads;
  ExactSearch search(q.data.data(), q.rows, q.dim, k, so);

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
    search.add(d.data.data(), d.rows, start, tie_keys.data() + start);
  }
  return search.results();
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
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace sbert::eval
