#include "mine/mine.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "core/json_write.h"
#include "core/rng.h"
#include "eval/beir.h"
#include "eval/search.h"
#include "io/atomic_file.h"

namespace sbert::mine {

namespace fs = std::filesystem;

Sampling parse_sampling(const std::string& name) {
  if (name == "top") return Sampling::Top;
  if (name == "random") return Sampling::Random;
  fail("[mine] sampling must be 'top' or 'random', got '", name, "'");
}

void validate(const SelectOptions& o) {
  SBERT_CHECK(o.num_negatives >= 0, "[mine] num_negatives must be >= 0, got ", o.num_negatives);
  SBERT_CHECK(o.range_min >= 0, "[mine] range_min must be >= 0, got ", o.range_min);
  SBERT_CHECK(o.range_min <= o.range_max, "[mine] range_min (", o.range_min,
              ") must not exceed range_max (", o.range_max, ")");
  SBERT_CHECK(o.num_negatives <= o.range_max - o.range_min, "[mine] cannot take ", o.num_negatives,
              " negatives from ranks [", o.range_min, ", ", o.range_max, "): only ",
              o.range_max - o.range_min,
              " candidates; lower num_negatives or range_min, or raise range_max");
  for (const auto& [name, v] :
       {std::pair{"absolute_margin", o.absolute_margin},
        std::pair{"relative_margin", o.relative_margin}, std::pair{"max_score", o.max_score},
        std::pair{"min_score", o.min_score}}) {
    SBERT_CHECK(!v || std::isfinite(*v), "[mine] ", name, " must be a finite number");
  }
  SBERT_CHECK(!o.absolute_margin || *o.absolute_margin >= 0.0f,
              "[mine] absolute_margin must be >= 0, got ", o.absolute_margin.value_or(0));
  SBERT_CHECK(!o.relative_margin || (*o.relative_margin >= 0.0f && *o.relative_margin <= 1.0f),
              "[mine] relative_margin must be in [0, 1], got ", o.relative_margin.value_or(0));
  SBERT_CHECK(!(o.max_score && o.min_score) || *o.min_score <= *o.max_score, "[mine] min_score (",
              o.min_score.value_or(0), ") exceeds max_score (", o.max_score.value_or(0), ")");
}

uint64_t query_key(const std::string& query_text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : query_text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {

// Draw j of query `key`: a 32-bit word of Philox4x32-10, key = seed, counter = (key, j / 4).
uint32_t draw(uint64_t seed, uint64_t key, uint64_t j) {
  const Philox4x32Ctr w =
      philox4x32_10({static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32),
                     static_cast<uint32_t>(j >> 2), 0x6d696e65u /* "mine" */},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return w[j & 3];
}

}  // namespace

std::vector<QueryNegatives> select_negatives(const float* query_emb, int64_t nq,
                                             const float* doc_emb, int64_t nd, int64_t dim,
                                             const std::vector<std::vector<int64_t>>& positives,
                                             const std::vector<std::vector<int64_t>>& excluded,
                                             const std::vector<uint64_t>& keys,
                                             const SelectOptions& o, SelectStats* stats) {
  validate(o);
  SBERT_CHECK(static_cast<int64_t>(positives.size()) == nq &&
                  static_cast<int64_t>(keys.size()) == nq &&
                  (excluded.empty() || static_cast<int64_t>(excluded.size()) == nq),
              "[mine] select_negatives: positives, excluded and keys must have one entry per "
              "query (",
              nq, ")");
  // How many retrieved documents a query may have to skip before its range_max survivors.
  int64_t skip = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const auto& pos = positives[static_cast<size_t>(q)];
    SBERT_CHECK(!pos.empty(), "[mine] select_negatives: query row ", q, " has no positive");
    for (const int64_t p : pos)
      SBERT_CHECK(p >= 0 && p < nd, "[mine] select_negatives: positive row ", p,
                  " outside the corpus (", nd, " rows)");
    const int64_t n = static_cast<int64_t>(pos.size()) +
                      (excluded.empty() ? 0 : static_cast<int64_t>(excluded[q].size()));
    skip = std::max(skip, n);
  }
  const int64_t depth = o.num_negatives == 0 ? 0 : o.range_max + skip;
  std::vector<std::vector<eval::Hit>> top;
  if (depth > 0 && nq > 0) {
    eval::SearchOptions so = o.search;
    so.normalize = false;  // scored as given, so eval::dot below reproduces the search's bits
    top = eval::exact_search(query_emb, nq, doc_emb, nd, dim, depth, {}, so);  // ties: row
  }

  SelectStats st;
  st.queries = nq;
  std::vector<QueryNegatives> out(static_cast<size_t>(nq));
  std::unordered_set<int64_t> skip_rows;
  std::vector<int64_t> window_rows;
  std::vector<float> window_scores;
  for (int64_t q = 0; q < nq; ++q) {
    QueryNegatives& r = out[static_cast<size_t>(q)];
    const float* qv = query_emb + q * dim;
    const auto& pos = positives[static_cast<size_t>(q)];
    float pos_score = INFINITY;
    for (const int64_t p : pos) {
      const float s = eval::dot(qv, doc_emb + p * dim, dim);
      st.positive_score_sum += static_cast<double>(s);
      ++st.positive_scores;
      pos_score = std::min(pos_score, s);  // the harder positive, as sentence-transformers
    }
    r.positive_score = pos_score;
    if (depth == 0) continue;

    skip_rows.clear();
    skip_rows.insert(pos.begin(), pos.end());
    std::unordered_set<int64_t> excl;
    if (!excluded.empty()) excl.insert(excluded[q].begin(), excluded[q].end());

    // Thresholds in float32, as torch computes them.
    const float abs_limit = o.absolute_margin ? pos_score : 0.0f;
    const float rel_limit =
        o.relative_margin ? pos_score - std::fabs(pos_score) * *o.relative_margin : 0.0f;
    window_rows.clear();
    window_scores.clear();
    int64_t survivors = 0;
    for (const eval::Hit& hit : top[static_cast<size_t>(q)]) {
      const float s = hit.score;
      const int64_t row = hit.doc;
      ++st.candidates;
      if (skip_rows.count(row)) {
        ++st.dropped_positive;
        continue;
      }
      if (excl.count(row)) {
        ++st.dropped_duplicate;
        continue;
      }
      if (o.absolute_margin && s + *o.absolute_margin > abs_limit) {
        ++st.dropped_absolute_margin;
        continue;
      }
      if (o.relative_margin && s > rel_limit) {
        ++st.dropped_relative_margin;
        continue;
      }
      if (o.max_score && s > *o.max_score) {
        ++st.dropped_max_score;
        continue;
      }
      if (o.min_score && s < *o.min_score) {
        ++st.dropped_min_score;
        continue;
      }
      // A survivor: its rank among survivors is `survivors`.
      if (survivors >= o.range_min && survivors < o.range_max) {
        window_rows.push_back(row);
        window_scores.push_back(s);
      }
      ++survivors;
    }

    const int64_t n = static_cast<int64_t>(window_rows.size());
    const int64_t k = std::min(o.num_negatives, n);
    std::vector<int64_t> pick(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pick[static_cast<size_t>(i)] = i;
    if (o.sampling == Sampling::Random && k < n) {
      // Partial Fisher-Yates: k distinct window positions, then back in rank order.
      const uint64_t key = keys[static_cast<size_t>(q)];
      for (int64_t i = 0; i < k; ++i) {
        const uint64_t span = static_cast<uint64_t>(n - i);
        const int64_t j =
            i +
            static_cast<int64_t>(
                (static_cast<uint64_t>(draw(o.seed, key, static_cast<uint64_t>(i))) * span) >> 32);
        std::swap(pick[static_cast<size_t>(i)], pick[static_cast<size_t>(j)]);
      }
      std::sort(pick.begin(), pick.begin() + k);
    }
    for (int64_t i = 0; i < k; ++i) {
      const size_t w = static_cast<size_t>(pick[static_cast<size_t>(i)]);
      r.rows.push_back(window_rows[w]);
      r.scores.push_back(window_scores[w]);
      st.negative_score_sum += static_cast<double>(window_scores[w]);
    }
    st.negatives += k;
    if (k < o.num_negatives) ++st.short_queries;
  }
  if (stats) *stats = st;
  return out;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

MineStats mine_beir(const Model& model, const fs::path& beir_dir, const fs::path& output,
                    const MineOptions& options) {
  validate(options.select);
  MineStats ms;
  auto t0 = std::chrono::steady_clock::now();
  const eval::BeirSet data = eval::read_beir_set(beir_dir, options.split);  // strict ids
  const int64_t ndocs = static_cast<int64_t>(data.corpus.size());
  ms.corpus_docs = ndocs;
  ms.qrels_rows = static_cast<int64_t>(data.qrels.size());

  // Documents as evaluation embeds them and training reads them: (title + " " + text).strip().
  std::vector<std::string> docs(static_cast<size_t>(ndocs));
  for (int64_t i = 0; i < ndocs; ++i) docs[static_cast<size_t>(i)] = data.document(i);
  const auto query_text = [&](int64_t row) -> const std::string& {
    return data.queries[static_cast<size_t>(row)].text;
  };

  // A later row for the same (query, doc) pair replaces an earlier one (BEIR keeps a dict).
  std::unordered_map<std::string, size_t> last_row;  // "query\tdoc" -> qrels index
  for (size_t i = 0; i < data.qrels.size(); ++i) {
    last_row[data.qrels[i].query_id + '\t' + data.qrels[i].doc_id] = i;
  }

  // Queries with at least one positive, in order of first appearance in the qrels. Query ids
  // with the same text are ONE mined query whose positives are pooled (as sentence-transformers
  // de-duplicates anchors by text): a document that is a positive for this text under another
  // id is not a negative.
  std::vector<int64_t> query_rows;                // -> data.queries row (the first id)
  std::unordered_map<std::string, int64_t> qpos;  // query text -> index in query_rows
  std::vector<std::vector<int64_t>> positives;
  struct Record {
    int64_t query = 0;  // index in query_rows
    int64_t doc = 0;    // corpus row
    const eval::BeirQrel* qrel = nullptr;
  };
  std::vector<Record> records;
  for (size_t i = 0; i < data.qrels.size(); ++i) {
    const eval::BeirQrel& r = data.qrels[i];
    if (last_row.at(r.query_id + '\t' + r.doc_id) != i) {
      ++ms.skipped_superseded;
      continue;
    }
    if (!(r.score > 0)) {
      ++ms.skipped_not_positive;
      continue;
    }
    const int64_t d = data.doc_row.at(r.doc_id);
    if (docs[static_cast<size_t>(d)].empty()) {
      ++ms.skipped_empty_positive;
      continue;
    }
    const int64_t qrow = data.query_row.at(r.query_id);
    auto [it, inserted] = qpos.emplace(query_text(qrow), static_cast<int64_t>(query_rows.size()));
    if (inserted) {
      query_rows.push_back(qrow);
      positives.emplace_back();
    }
    auto& pos = positives[static_cast<size_t>(it->second)];
    if (std::find(pos.begin(), pos.end(), d) == pos.end()) pos.push_back(d);
    records.push_back({it->second, d, &r});
  }
  SBERT_CHECK(!records.empty(), "[mine] ", data.qrels_name,
              ": no positive judgements (score > 0) with a non-empty document");
  const int64_t nq = static_cast<int64_t>(query_rows.size());
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t row = query_rows[static_cast<size_t>(q)];
    SBERT_CHECK(!eval::py_strip(query_text(row)).empty(), "[mine] ",
                (beir_dir / "queries.jsonl").string(), ": query '",
                data.queries[static_cast<size_t>(row)].id, "' has no text");
  }

  // Never negatives: empty documents (for every query) and documents whose (stripped) text
  // equals one of the query's positives (the training reader refuses such a negative).
  std::vector<int64_t> empty_docs;
  std::unordered_map<std::string_view, std::vector<int64_t>> by_text;
  for (int64_t i = 0; i < ndocs; ++i) {
    const std::string& s = docs[static_cast<size_t>(i)];
    if (s.empty())
      empty_docs.push_back(i);
    else
      by_text[s].push_back(i);
  }
  std::vector<std::vector<int64_t>> excluded(static_cast<size_t>(nq));
  std::vector<uint64_t> keys(static_cast<size_t>(nq));
  for (int64_t q = 0; q < nq; ++q) {
    auto& ex = excluded[static_cast<size_t>(q)];
    const auto& pos = positives[static_cast<size_t>(q)];
    for (const int64_t p : pos)
      for (const int64_t d : by_text.at(docs[static_cast<size_t>(p)]))
        if (std::find(pos.begin(), pos.end(), d) == pos.end() &&
            std::find(ex.begin(), ex.end(), d) == ex.end())
          ex.push_back(d);
    ex.insert(ex.end(), empty_docs.begin(), empty_docs.end());
    keys[static_cast<size_t>(q)] = query_key(query_text(query_rows[static_cast<size_t>(q)]));
  }
  ms.seconds_read = seconds_since(t0);

  std::vector<std::string> qtexts;
  qtexts.reserve(static_cast<size_t>(nq));
  for (const int64_t r : query_rows) qtexts.push_back(query_text(r));
  std::vector<QueryNegatives> negs(static_cast<size_t>(nq));
  Embeddings demb, qemb;
  // A progress stage: reports its start, then each update of the inner operation.
  const auto stage = [&](const char* name, int64_t total) {
    if (!options.progress) return ProgressCallback();
    options.progress({name, 0, total});
    return ProgressCallback(
        [&options, name, total](const Progress& p) { options.progress({name, p.done, total}); });
  };
  if (options.select.num_negatives == 0 && !options.write_ids) {
    // Records with no negatives and no scores need no embedding: the whole corpus would be
    // embedded for nothing.
    ms.select.queries = nq;
  } else {
    // Embed.
    t0 = std::chrono::steady_clock::now();
    EmbedOptions eo = options.embed;
    eo.prefix = options.passage_prefix;
    eo.progress = stage("embed corpus", ndocs);
    demb = model.embed(docs, eo);
    eo.prefix = options.query_prefix;
    eo.progress = stage("embed queries", nq);
    qemb = model.embed(qtexts, eo);
    SBERT_CHECK(demb.dim == qemb.dim && demb.rows == ndocs && qemb.rows == nq,
                "[mine] unexpected embedding shapes");
    eval::l2_normalize_rows(demb.data.data(), demb.rows, demb.dim);
    eval::l2_normalize_rows(qemb.data.data(), qemb.rows, qemb.dim);
    ms.seconds_embed = seconds_since(t0);

    // Search and select.
    t0 = std::chrono::steady_clock::now();
    SelectOptions so = options.select;
    if (so.search.threads == 0) so.search.threads = options.embed.threads;
    const auto search_done = stage("search", nq);  // one pass over the corpus: start and end
    negs = select_negatives(qemb.data.data(), nq, demb.data.data(), demb.rows, demb.dim, positives,
                            excluded, keys, so, &ms.select);
    if (search_done) search_done({"search", nq, nq});
    ms.seconds_search = seconds_since(t0);
  }

  // Write, in qrels order.
  t0 = std::chrono::steady_clock::now();
  AtomicFile out(output);
  std::string line;
  const auto wrote = stage("write", static_cast<int64_t>(records.size()));
  for (const Record& rec : records) {
    const int64_t q = rec.query, d = rec.doc;
    const QueryNegatives& n = negs[static_cast<size_t>(q)];
    const int64_t got = static_cast<int64_t>(n.rows.size());
    if (got < options.select.num_negatives) ++ms.records_short;
    if (got == 0 && options.select.num_negatives > 0) ++ms.records_without_negatives;
    // One line per record, Python's default separators: {"query": "...", "pos_doc": ...}
    JsonWriter j;
    j.begin_object(true).member("query", qtexts[static_cast<size_t>(q)]);
    j.member("pos_doc", docs[static_cast<size_t>(d)]).key("neg_doc").begin_array();
    for (const int64_t row : n.rows) j.value(docs[static_cast<size_t>(row)]);
    j.end_array();
    if (options.write_ids) {
      j.member("query_id", rec.qrel->query_id).member("pos_id", rec.qrel->doc_id);
      j.key("neg_ids").begin_array();
      for (const int64_t row : n.rows) j.value(data.corpus[static_cast<size_t>(row)].id);
      j.end_array().member("pos_score", eval::dot(qemb.row(q), demb.row(d), demb.dim));
      j.key("neg_scores").begin_array();
      for (const float score : n.scores) j.value(score);
      j.end_array();
    }
    j.end_object();
    line = j.take();
    line += '\n';
    out.write(line);
  }
  out.commit();
  ms.records = static_cast<int64_t>(records.size());
  if (wrote) wrote({"write", ms.records, ms.records});
  ms.seconds_write = seconds_since(t0);
  return ms;
}

}  // namespace sbert::mine
