#include "data/train_batches.h"

#include <simdjson.h>

#include <cstring>
#include <random>
#include <unordered_set>

#include "core/check.h"
#include "core/json_read.h"
#include "core/json_write.h"
#include "data/ascii_space.h"
#include "data/seeded_rng.h"

namespace sbert {

namespace {

using Hash128 = TrainBatchBuilder::Hash128;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// MurmurHash3-style 128-bit hash of (role, text); collisions are out of reach in practice
// (~2^-64 for 10^10 texts), so the token cache and dedupe compare hashes instead of texts.
Hash128 hash_text(char role, std::string_view s) {
  const uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
  uint64_t h1 = 0x9368e53c2f6af274ull ^ static_cast<uint8_t>(role);
  uint64_t h2 = 0x586dcd208f7cd3fdull;
  const size_t nblocks = s.size() / 16;
  auto mix = [&](uint64_t k1, uint64_t k2) {
    k1 *= c1;
    k1 = rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  };
  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k[2];
    std::memcpy(k, s.data() + i * 16, 16);
    mix(k[0], k[1]);
  }
  unsigned char tail[16] = {};
  std::memcpy(tail, s.data() + nblocks * 16, s.size() - nblocks * 16);
  uint64_t k[2];
  std::memcpy(k, tail, 16);
  mix(k[0], k[1]);
  h1 ^= s.size();
  h2 ^= s.size();
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

using HashSet = std::unordered_set<Hash128, TrainBatchBuilder::Hash128Hasher>;

}  // namespace

NegativeSelection parse_negative_selection(std::string_view s) {
  if (s == "first") return NegativeSelection::First;
  if (s == "random") return NegativeSelection::Random;
  fail("[train-data] negative selection must be 'first' or 'random', got '", s, "'");
}

const char* negative_selection_name(NegativeSelection s) {
  return s == NegativeSelection::First ? "first" : "random";
}

// ---- slicing ----------------------------------------------------------------------------

TrainBatch slice_rows(const TrainBatch& b, size_t begin, size_t end) {
  SBERT_CHECK(begin <= end && end <= b.size(), "[train-data] slice_rows: rows [", begin, ", ", end,
              ") out of a batch of ", b.size());
  const auto K = static_cast<size_t>(b.num_negatives);
  TrainBatch out;
  out.epoch = b.epoch;
  out.index_in_epoch = b.index_in_epoch;
  out.num_negatives = b.num_negatives;
  out.records.assign(b.records.begin() + begin, b.records.begin() + end);
  out.queries.assign(b.queries.begin() + begin, b.queries.begin() + end);
  out.positives.assign(b.positives.begin() + begin, b.positives.begin() + end);
  out.negatives.assign(b.negatives.begin() + begin * K, b.negatives.begin() + end * K);
  out.negative_mask.assign(b.negative_mask.begin() + begin * K, b.negative_mask.begin() + end * K);
  if (!b.scores.empty()) out.scores.assign(b.scores.begin() + begin, b.scores.begin() + end);
  if (!b.margins.empty()) {
    out.margins.assign(b.margins.begin() + begin * K, b.margins.begin() + end * K);
  }
  out.dataset = b.dataset;
  return out;
}

TrainBatch slice_for_rank(const TrainBatch& global, int rank, int world_size) {
  SBERT_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "[train-data] rank ", rank,
              " is not in [0, world_size ", world_size, ")");
  const size_t B = global.size(), W = static_cast<size_t>(world_size);
  SBERT_CHECK(B % W == 0, "[train-data] global batch of ", B, " rows does not split over ", W,
              " ranks (global_batch_size must be a multiple of the number of ranks)");
  const size_t per = B / W, r = static_cast<size_t>(rank);
  return slice_rows(global, r * per, (r + 1) * per);
}

std::vector<TrainBatch> split_micro_batches(const TrainBatch& b, size_t micro) {
  SBERT_CHECK(micro >= 1 && b.size() % micro == 0, "[train-data] batch of ", b.size(),
              " rows does not split into micro-batches of ", micro);
  std::vector<TrainBatch> out;
  for (size_t i = 0; i < b.size(); i += micro) out.push_back(slice_rows(b, i, i + micro));
  return out;
}

// ---- position ---------------------------------------------------------------------------

std::string DataPosition::to_json() const {
  JsonWriter j;  // compact: it is stored as one string inside trainer_state.json
  j.begin_object().member("format", "libsbert-data-position");
  if (!datasets.empty()) {  // several datasets: version 2 holds the sampler and each stream
    j.member("version", 2).member("sampler", sampler).member("epoch", epoch);
    j.member("batch_in_epoch", batch_in_epoch).member("seed", seed);
    j.member("global_batch_size", global_batch_size).key("datasets").begin_array();
    for (const DataPosition& d : datasets) j.raw(d.to_json());
    j.end_array().end_object();
    return j.take();
  }
  j.member("version", 1).member("epoch", epoch).member("cursor", cursor);
  j.member("batch_in_epoch", batch_in_epoch).member("records", records).member("seed", seed);
  j.member("global_batch_size", global_batch_size);
  j.member("hard_negatives_to_train", hard_negatives_to_train);
  j.member("negative_selection", negative_selection_name(negative_selection));
  j.member("shuffle", shuffle).member("dedupe_in_batch", dedupe_in_batch);
  j.member("strip_whitespace", strip_whitespace).key("deferred").begin_array();
  for (const uint32_t d : deferred) j.value(d);
  j.end_array().end_object();
  return j.take();
}

DataPosition DataPosition::from_json(std::string_view json) {
  const JsonDocument doc = JsonDocument::from_string(json, "position", "train-data");
  const JsonReader r("train-data", "position");
  const simdjson::dom::object obj = r.object(doc.root(), "");
  std::string_view format;
  const auto f = JsonReader::member(obj, "format");
  SBERT_CHECK(f && !f->get(format) && format == "libsbert-data-position", r.where(),
              "field 'format' must be \"libsbert-data-position\"");
  auto u64 = [&](const char* name) {
    const simdjson::dom::element e = r.required(obj, name, name);
    uint64_t v = 0;
    if (e.get(v)) r.type_error(name, e, "a non-negative integer");
    return v;
  };
  auto boolean = [&](const char* name) { return r.boolean(r.required(obj, name, name), name); };
  auto string = [&](const char* name) { return r.string(r.required(obj, name, name), name); };
  const uint64_t version = u64("version");
  SBERT_CHECK(version == 1 || version == 2, r.where(), "unsupported version ", version);
  DataPosition p;
  if (version == 2) {
    p.sampler = std::string(string("sampler"));
    p.epoch = u64("epoch");
    p.batch_in_epoch = u64("batch_in_epoch");
    p.seed = u64("seed");
    p.global_batch_size = u64("global_batch_size");
    const simdjson::dom::array arr = r.array(r.required(obj, "datasets", "datasets"), "datasets");
    SBERT_CHECK(arr.size() >= 2, r.where(),
                "field 'datasets' must be an array of at least 2 positions, got ", arr.size());
    for (simdjson::dom::element e : arr) p.datasets.push_back(from_json(simdjson::minify(e)));
    return p;
  }
  p.epoch = u64("epoch");
  p.cursor = u64("cursor");
  p.batch_in_epoch = u64("batch_in_epoch");
  p.records = u64("records");
  p.seed = u64("seed");
  p.global_batch_size = u64("global_batch_size");
  const uint64_t k = u64("hard_negatives_to_train");
  SBERT_CHECK(k <= INT32_MAX, r.where(), "hard_negatives_to_train ", k, " too large");
  p.hard_negatives_to_train = static_cast<int>(k);
  p.negative_selection = parse_negative_selection(string("negative_selection"));
  p.shuffle = boolean("shuffle");
  p.dedupe_in_batch = boolean("dedupe_in_batch");
  p.strip_whitespace = boolean("strip_whitespace");
  const simdjson::dom::array arr = r.array(r.required(obj, "deferred", "deferred"), "deferred");
  size_t i = 0;
  for (simdjson::dom::element e : arr) {
    uint64_t v = 0;
    if (e.get(v) || v > UINT32_MAX) {
      r.type_error(cat("deferred[", i, "]"), e, "a record index (0 to 2^32 - 1)");
    }
    p.deferred.push_back(static_cast<uint32_t>(v));
    ++i;
  }
  return p;
}

// ---- builder ----------------------------------------------------------------------------

struct TrainBatchBuilder::Row {
  uint32_t record = 0;
  TrainRecord rec;                // texts (stripped in place when strip_whitespace)
  Hash128 q, p;                   // keys of the query and the positive
  std::vector<int> neg_pick;      // (K) index into rec.neg_docs, -1 for a masked slot
  std::vector<Hash128> neg_keys;  // (K) keys of the picked negatives (masked slots: none)
};

TrainBatchBuilder::TrainBatchBuilder(std::shared_ptr<const TrainDataset> data,
                                     TrainBatchOptions options, TokenizeFn tokenize)
    : TrainBatchBuilder(
          std::move(data), std::move(options),
          tokenize == nullptr
              ? TokenizeBatchFn()
              : TokenizeBatchFn(
                    [fn = std::move(tokenize)](const std::vector<std::string>& texts, int max_len) {
                      std::vector<std::vector<int32_t>> out;
                      out.reserve(texts.size());
                      for (const std::string& t : texts) out.push_back(fn(t, max_len));
                      return out;
                    })) {}

TrainBatchBuilder::TrainBatchBuilder(std::shared_ptr<const TrainDataset> data,
                                     TrainBatchOptions options, TokenizeBatchFn tokenize_batch)
    : data_(std::move(data)), opt_(std::move(options)), tokenize_(std::move(tokenize_batch)) {
  SBERT_CHECK(data_ != nullptr, "[train-data] batch builder: no dataset");
  SBERT_CHECK(tokenize_ != nullptr, "[train-data] batch builder: no tokenize callback");
  SBERT_CHECK(opt_.hard_negatives_to_train >= 0,
              "[train-data] hard_negatives_to_train must be >= 0, got ",
              opt_.hard_negatives_to_train);
  SBERT_CHECK(opt_.query_max_length > 0 && opt_.passage_max_length > 0,
              "[train-data] query_max_length and passage_max_length must be positive, got ",
              opt_.query_max_length, " and ", opt_.passage_max_length);
  SBERT_CHECK(opt_.global_batch_size >= 1, "[train-data] global_batch_size must be >= 1");
  SBERT_CHECK(data_->size() <= UINT32_MAX, "[train-data] ", data_->name(), ": ", data_->size(),
              " records; at most 2^32 - 1 are supported");
  SBERT_CHECK(data_->size() >= opt_.global_batch_size, "[train-data] ", data_->name(), ": ",
              data_->size(), " records, fewer than global_batch_size ", opt_.global_batch_size,
              ": no full batch can be made (incomplete batches are "
              "dropped)");
}

void TrainBatchBuilder::ensure_order() {
  if (order_epoch_ == epoch_) return;
  const size_t n = data_->size();
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = static_cast<uint32_t>(i);
  if (opt_.shuffle) {
    std::mt19937_64 rng = make_rng(opt_.seed, kOrderStream, epoch_, 0);
    for (size_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[uniform_below(rng, i + 1)]);
  }
  order_epoch_ = epoch_;
}

TrainBatchBuilder::Row TrainBatchBuilder::prepare(uint32_t record, uint64_t epoch) {
  Row row;
  row.record = record;
  row.rec = data_->record(record, scratch_);
  if (opt_.strip_whitespace) {
    auto strip = [](std::string& s) {
      const std::string_view v = strip_ascii(s);
      if (v.size() == s.size()) return;
      const size_t begin = static_cast<size_t>(v.data() - s.data());
      s.erase(begin + v.size());
      s.erase(0, begin);
    };
    strip(row.rec.query);
    strip(row.rec.pos_doc);
    for (std::string& s : row.rec.neg_docs) strip(s);
  }
  row.q = hash_text('q', row.rec.query);
  row.p = hash_text('p', row.rec.pos_doc);

  const auto K = static_cast<size_t>(opt_.hard_negatives_to_train);
  const size_t n = row.rec.neg_docs.size();
  row.neg_pick.assign(K, -1);
  if (K > 0 && n > 0) {
    std::mt19937_64 rng = make_rng(opt_.seed, kNegativeStream, epoch, record);
    if (n >= K && opt_.negative_selection == NegativeSelection::First) {
      for (size_t k = 0; k < K; ++k) row.neg_pick[k] = static_cast<int>(k);
    } else if (n >= K) {  // K distinct: partial Fisher-Yates
      std::vector<int> idx(n);
      for (size_t i = 0; i < n; ++i) idx[i] = static_cast<int>(i);
      for (size_t k = 0; k < K; ++k) {
        std::swap(idx[k], idx[k + uniform_below(rng, n - k)]);
        row.neg_pick[k] = idx[k];
      }
    } else {  // all n, then fill with replacement
      for (size_t k = 0; k < n; ++k) row.neg_pick[k] = static_cast<int>(k);
      for (size_t k = n; k < K; ++k) row.neg_pick[k] = static_cast<int>(uniform_below(rng, n));
    }
  }
  for (int pick : row.neg_pick) {
    if (pick >= 0) row.neg_keys.push_back(hash_text('p', row.rec.neg_docs[size_t(pick)]));
  }
  return row;
}

void TrainBatchBuilder::tokenize_missing(std::span<const Row> rows) {
  // Texts not cached yet, each once, in row order: queries in one call, passages in another.
  std::vector<std::string> texts[2];
  std::vector<Hash128> keys[2];
  std::unordered_set<Hash128, Hash128Hasher> pending;
  auto want = [&](int role, const Hash128& key, std::string_view text) {
    if (token_ids_.count(key) || !pending.insert(key).second) return;
    texts[role].push_back((role == 0 ? opt_.query_prefix : opt_.passage_prefix) +
                          std::string(text));
    keys[role].push_back(key);
  };
  for (const Row& row : rows) {
    want(0, row.q, row.rec.query);
    want(1, row.p, row.rec.pos_doc);
    size_t key = 0;
    for (int pick : row.neg_pick) {
      if (pick >= 0) want(1, row.neg_keys[key++], row.rec.neg_docs[size_t(pick)]);
    }
  }
  for (int role = 0; role < 2; ++role) {
    if (texts[role].empty()) continue;
    const int max_len = role == 0 ? opt_.query_max_length : opt_.passage_max_length;
    std::vector<std::vector<int32_t>> ids = tokenize_(texts[role], max_len);
    SBERT_CHECK(ids.size() == texts[role].size(), "[train-data] the tokenizer returned ",
                ids.size(), " id lists for ", texts[role].size(), " texts");
    for (size_t i = 0; i < ids.size(); ++i) {
      SBERT_CHECK(ids[i].size() <= static_cast<size_t>(max_len),
                  "[train-data] the tokenizer returned ", ids[i].size(), " ids for max_len ",
                  max_len);
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      stats_.tokenized_texts += 1;
      stats_.cached_tokens += ids[i].size();
      token_ids_.emplace(keys[role][i], static_cast<uint32_t>(tokens_.size()));
      tokens_.push_back(std::move(ids[i]));
    }
  }
}

TrainBatch TrainBatchBuilder::next() { return next_shard(0, 1); }

TrainBatch TrainBatchBuilder::next_shard(int rank, int world_size) {
  const size_t B = opt_.global_batch_size;
  const auto K = static_cast<size_t>(opt_.hard_negatives_to_train);
  SBERT_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "[train-data] rank ", rank,
              " is not in [0, world_size ", world_size, ")");
  SBERT_CHECK(B % static_cast<size_t>(world_size) == 0, "[train-data] global batch of ", B,
              " rows does not split over ", world_size,
              " ranks (global_batch_size must be a multiple of the number of ranks)");
  const size_t per = B / static_cast<size_t>(world_size);
  const size_t first = per * static_cast<size_t>(rank);
  for (;;) {
    ensure_order();
    // Work on copies of the stream state; commit only once the batch is complete.
    uint64_t cursor = cursor_;
    size_t d = 0;  // deferred_ entries taken
    std::vector<uint32_t> new_deferred;
    std::vector<Row> rows;
    rows.reserve(B);
    HashSet queries, positives, negatives;
    if (opt_.dedupe_in_batch) {
      queries.reserve(B);
      positives.reserve(B);
      negatives.reserve(B * K);
    }
    while (rows.size() < B) {
      uint32_t rec;
      if (d < deferred_.size()) {
        rec = deferred_[d++];
      } else if (cursor < order_.size()) {
        rec = order_[cursor++];
      } else {
        break;
      }
      Row row = prepare(rec, epoch_);
      if (opt_.dedupe_in_batch) {
        bool clash = queries.count(row.q) || positives.count(row.p) || negatives.count(row.p);
        for (const Hash128& n : row.neg_keys) clash = clash || positives.count(n);
        if (clash) {
          new_deferred.push_back(rec);
          continue;
        }
        queries.insert(row.q);
        positives.insert(row.p);
        negatives.insert(row.neg_keys.begin(), row.neg_keys.end());
      }
      rows.push_back(std::move(row));
    }

    if (rows.size() < B) {  // the epoch ran out: drop what is left, start the next epoch
      SBERT_CHECK(batch_in_epoch_ > 0, "[train-data] ", data_->name(), ": epoch ", epoch_,
                  " makes no full batch of ", B, " rows: only ", rows.size(),
                  " records fit together without duplicate queries/positives "
                  "(dedupe_in_batch); lower global_batch_size or turn dedupe off");
      stats_.dropped += rows.size() + new_deferred.size();
      ++epoch_;
      cursor_ = 0;
      batch_in_epoch_ = 0;
      deferred_.clear();
      continue;
    }

    if (!opt_.cache_tokens) {
      token_ids_.clear();
      tokens_.clear();
      stats_.cached_tokens = 0;
    }
    const std::span<const Row> mine(rows.data() + first, per);
    tokenize_missing(mine);
    TrainBatch batch;
    batch.epoch = epoch_;
    batch.index_in_epoch = batch_in_epoch_;
    batch.num_negatives = static_cast<int>(K);
    batch.records.reserve(per);
    batch.queries.reserve(per);
    batch.positives.reserve(per);
    batch.negatives.resize(per * K);
    batch.negative_mask.assign(per * K, 0);
    // Labels only when every record has them: a batch is all-or-nothing for the loss.
    const bool scores = data_->all_have_scores(), margins = data_->all_have_margins();
    if (scores) batch.scores.reserve(per);
    if (margins) batch.margins.assign(per * K, 0.0);
    uint64_t masked = 0;
    for (size_t b = 0; b < per; ++b) {
      const Row& row = mine[b];
      batch.records.push_back(row.record);
      batch.queries.push_back(tokens_[token_ids_.at(row.q)]);
      batch.positives.push_back(tokens_[token_ids_.at(row.p)]);
      if (scores) batch.scores.push_back(*row.rec.score);
      size_t key = 0;
      for (size_t k = 0; k < K; ++k) {
        const int pick = row.neg_pick[k];
        if (pick < 0) {
          ++masked;
          continue;
        }
        batch.negatives[b * K + k] = tokens_[token_ids_.at(row.neg_keys[key++])];
        batch.negative_mask[b * K + k] = 1;
        if (margins) batch.margins[b * K + k] = row.rec.margins[size_t(pick)];
      }
    }

    // Commit.
    cursor_ = cursor;
    deferred_.erase(deferred_.begin(), deferred_.begin() + static_cast<std::ptrdiff_t>(d));
    deferred_.insert(deferred_.end(), new_deferred.begin(), new_deferred.end());
    stats_.deferrals += new_deferred.size();
    stats_.masked_slots += masked;
    stats_.batches += 1;
    ++batch_in_epoch_;
    return batch;
  }
}

DataPosition TrainBatchBuilder::position() const {
  DataPosition p;
  p.epoch = epoch_;
  p.cursor = cursor_;
  p.batch_in_epoch = batch_in_epoch_;
  p.deferred = deferred_;
  p.records = data_->size();
  p.seed = opt_.seed;
  p.global_batch_size = opt_.global_batch_size;
  p.hard_negatives_to_train = opt_.hard_negatives_to_train;
  p.negative_selection = opt_.negative_selection;
  p.shuffle = opt_.shuffle;
  p.dedupe_in_batch = opt_.dedupe_in_batch;
  p.strip_whitespace = opt_.strip_whitespace;
  return p;
}

void TrainBatchBuilder::restore(const DataPosition& p) {
  const DataPosition mine = position();
  auto same = [&](const char* what, const auto& saved, const auto& now) {
    SBERT_CHECK(saved == now, "[train-data] cannot resume: the position was saved with ", what, " ",
                saved, " but this run has ", now);
  };
  same("records", p.records, mine.records);
  same("seed", p.seed, mine.seed);
  same("global_batch_size", p.global_batch_size, mine.global_batch_size);
  same("hard_negatives_to_train", p.hard_negatives_to_train, mine.hard_negatives_to_train);
  same("negative_selection", std::string(negative_selection_name(p.negative_selection)),
       std::string(negative_selection_name(mine.negative_selection)));
  auto tf = [](bool b) { return std::string(b ? "true" : "false"); };
  same("shuffle", tf(p.shuffle), tf(mine.shuffle));
  same("dedupe_in_batch", tf(p.dedupe_in_batch), tf(mine.dedupe_in_batch));
  same("strip_whitespace", tf(p.strip_whitespace), tf(mine.strip_whitespace));
  SBERT_CHECK(p.cursor <= p.records, "[train-data] cannot resume: cursor ", p.cursor,
              " is past the ", p.records, " records");
  for (uint32_t r : p.deferred) {
    SBERT_CHECK(r < p.records, "[train-data] cannot resume: deferred record ", r, " is past the ",
                p.records, " records");
  }
  epoch_ = p.epoch;
  cursor_ = p.cursor;
  batch_in_epoch_ = p.batch_in_epoch;
  deferred_ = p.deferred;
}

}  // namespace sbert
