// The batch builder: turns the records of a TrainDataset into GLOBAL batches (one per optimizer
// step) of tokenized (query, positive, K hard negatives) rows. See docs/data.md.
//
// Rules of this file:
// - Deterministic: the batches depend only on (data, options, seed), never on the standard
//   library (own Fisher-Yates over std::mt19937_64, own unbiased integer draws), the thread
//   count or how often the run was stopped and resumed (DataPosition).
// - Order: each epoch is a permutation of the records, drawn from (seed, epoch); or file order
//   with shuffle = false (NeMo's default). drop_last: an epoch ends when the remaining records
//   cannot fill a global batch; they are dropped FOR THAT EPOCH (counted in stats().dropped).
// - Negatives: every row has exactly K = hard_negatives_to_train slots, with a mask:
//     n >= K: "first" takes the first K, "random" K distinct ones (seeded by seed, epoch, record)
//     0 < n < K: all n, then K - n drawn from the n with replacement (seeded)   [NeMo's rule]
//     n == 0: no hard negatives; the K slots are masked out (mask 0, empty token list), so the
//             row trains on in-batch negatives only.
//   margins (distillation) follow the selected negatives slot for slot; scores are per row.
//   Both are filled only when every record of the dataset carries them.
// - dedupe_in_batch (default on): a record is kept out of a batch (deferred to the next one,
//   ahead of new records) when, against a record already in the batch, it has
//     the same query, or the same positive, or its positive is the other's selected negative,
//     or one of its selected negatives is the other's positive.
//   Texts are compared after whitespace stripping, without prefixes. Deferred records that
//   are still waiting when the epoch runs out are dropped for that epoch.
// - Tokenization goes through a callback, once per unique (role, text): a query is tokenized
//   from query_prefix + text with max_len = query_max_length, a passage (positive or negative)
//   from passage_prefix + text with passage_max_length. Either a per-text callback or a batch
//   callback (e.g. Tokenizer::encode_batch, threaded): the texts a batch needs that are not
//   cached yet go in at most two calls, queries then passages, in row order. The ids are cached
//   for the builder's lifetime (across epochs); the cache keys are 128-bit hashes of the
//   texts, so the texts themselves are not kept.
// - Not thread-safe: one builder per training loop. The callback is only called from next().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/train_reader.h"

namespace sbert {


// "first" / "random" (what a config file says); throws on anything else.
NegativeSelection parse_negative_selection(std::string_view s);
const char* negative_selection_name(NegativeSelection s);

struct TrainBatchOptions {
  int hard_negatives_to_train = 4;  // K >= 0; NeMo: model.data.hard_negatives_to_train
  NegativeSelection negative_selection = NegativeSelection::First;  // when a record has > K
  std::string query_prefix = "query: ";      // "" for none (NeMo/e5 convention by default)
  std::string passage_prefix = "passage: ";  // for positives and negatives
  int query_max_length = 512;                // tokens, passed to the tokenize callback
  int passage_max_length = 512;
  size_t global_batch_size = 8;  // rows (queries) per optimizer step, over all ranks
  bool shuffle = true;           // false: file order every epoch (NeMo's default)
  uint64_t seed = 1234;          // NeMo's default seed
  bool dedupe_in_batch = true;
  bool strip_whitespace = true;  // strip ASCII whitespace around every text, as NeMo's .strip()
  bool cache_tokens = true;      // false: keep no ids between batches (for data too large to hold
                                 // tokenized; every batch then tokenizes its texts)
};

// One global batch. B rows; row b is record `records[b]` of the dataset.
struct TrainBatch {
  uint64_t epoch = 0;                           // 0-based
  uint64_t index_in_epoch = 0;                  // 0-based batch number within the epoch
  int num_negatives = 0;                        // K
  std::vector<uint32_t> records;                // (B) dataset record index (0-based)
  std::vector<std::vector<int32_t>> queries;    // (B) token ids
  std::vector<std::vector<int32_t>> positives;  // (B) token ids
  std::vector<std::vector<int32_t>> negatives;  // (B*K) row-major: row b, slot k at b*K + k;
                                                //   empty when the slot is masked
  std::vector<uint8_t> negative_mask;           // (B*K) 1 = real negative, 0 = missing slot
                                                //   (the loss must leave it out everywhere)
  std::vector<double> scores;                   // (B) row labels (scored pairs); empty when
                                                //   the data has none
  std::vector<double> margins;                  // (B*K) teacher margins of the selected
                                                //   negatives (masked slots 0); empty when the
                                                //   data has none
  size_t dataset = 0;                           // which training dataset (train_ds) it is from
  size_t size() const { return records.size(); }
};

// Rows [begin, end) of a batch (same epoch/index/K).
TrainBatch slice_rows(const TrainBatch& batch, size_t begin, size_t end);
// Rank r's contiguous share of a global batch: rows [r*B/W, (r+1)*B/W). B must divide by W.
TrainBatch slice_for_rank(const TrainBatch& global, int rank, int world_size);
// Consecutive micro-batches of `micro_batch_size` rows (which must divide the batch size).
std::vector<TrainBatch> split_micro_batches(const TrainBatch& batch, size_t micro_batch_size);

// Where the stream of batches stands: enough to continue exactly where it stopped. position()
// before next() number n, restored into a fresh builder over the same data and options, makes
// that builder yield batches n, n+1, ... identical to the uninterrupted run.
struct DataPosition {
  uint64_t epoch = 0;
  uint64_t cursor = 0;             // records of this epoch's order already taken
  uint64_t batch_in_epoch = 0;     // batches already yielded in this epoch
  std::vector<uint32_t> deferred;  // records deferred by dedupe, in the order they are retried
  // What the stream was built from, checked by restore():
  uint64_t records = 0;
  uint64_t seed = 0;
  uint64_t global_batch_size = 0;
  int hard_negatives_to_train = 0;
  NegativeSelection negative_selection = NegativeSelection::First;
  bool shuffle = true;
  bool dedupe_in_batch = true;
  bool strip_whitespace = true;
  // Several datasets (MultiBatchBuilder, data/batch_sampler.h): epoch and batch_in_epoch are
  // the sampler's round and the batches of it taken, seed and global_batch_size the run's, and
  // each dataset's stream is one position here (the fields above then unused). Empty: one
  // dataset, the stream is this position.
  std::string sampler;  // "proportional" or "round_robin"
  std::vector<DataPosition> datasets;

  // One line, {"format":"libsbert-data-position","version":1,...}; version 2 with datasets.
  std::string to_json() const;
  static DataPosition from_json(std::string_view json);  // throws "[train-data] position: ..."
};

struct TrainBatchStats {
  uint64_t batches = 0;          // yielded by this builder
  uint64_t deferrals = 0;        // times a record was pushed to the next batch by dedupe
  uint64_t dropped = 0;          // records left out at epoch ends (drop_last, deferred)
  uint64_t masked_slots = 0;     // negative slots masked out (records without negatives), in
                                 // the rows yielded (a rank's share with next_shard)
  uint64_t tokenized_texts = 0;  // unique texts tokenized (each once)
  uint64_t cached_tokens = 0;    // token ids held by the cache now
};

class TrainBatchBuilder {
 public:
  using TokenizeFn = std::function<std::vector<int32_t>(const std::string& text, int max_len)>;
  // Must return one id list per text, in order.
  using TokenizeBatchFn = std::function<std::vector<std::vector<int32_t>>(
      const std::vector<std::string>& texts, int max_len)>;

  // Throws when the options are invalid or the data has fewer records than one global batch.
  TrainBatchBuilder(std::shared_ptr<const TrainDataset> data, TrainBatchOptions options,
                    TokenizeFn tokenize);
  TrainBatchBuilder(std::shared_ptr<const TrainDataset> data, TrainBatchOptions options,
                    TokenizeBatchFn tokenize_batch);

  TrainBatch next();  // the next full global batch; epochs follow one another without end
  // Data parallelism: rank's share of the next global batch, slice_for_rank(next(), rank,
  // world_size) without tokenizing the other ranks' rows. Every rank selects the same global
  // batch (the selection and dedupe depend only on the data, options and seed), so the
  // position stays global: a run saved with N ranks resumes on any number.
  TrainBatch next_shard(int rank, int world_size);

  DataPosition position() const;          // the stream's position before the next next()
  void restore(const DataPosition& pos);  // throws when pos was made with other data/options

  const TrainBatchStats& stats() const { return stats_; }
  const TrainBatchOptions& options() const { return opt_; }
  // floor(records / global_batch_size): batches per epoch, fewer only when dedupe defers.
  size_t max_batches_per_epoch() const { return data_->size() / opt_.global_batch_size; }

  struct Hash128 {
    uint64_t lo = 0, hi = 0;
    bool operator==(const Hash128&) const = default;
  };
  struct Hash128Hasher {
    size_t operator()(const Hash128& h) const { return static_cast<size_t>(h.lo); }
  };

 private:
  struct Row;
  Row prepare(uint32_t record, uint64_t epoch);
  void tokenize_missing(std::span<const Row> rows);
  void ensure_order();

  std::shared_ptr<const TrainDataset> data_;
  TrainBatchOptions opt_;
  TokenizeBatchFn tokenize_;
  TrainRecordScratch scratch_;

  // Stream state (what DataPosition carries).
  uint64_t epoch_ = 0;
  uint64_t cursor_ = 0;
  uint64_t batch_in_epoch_ = 0;
  std::vector<uint32_t> deferred_;

  std::vector<uint32_t> order_;  // (records) this epoch's permutation
  uint64_t order_epoch_ = UINT64_MAX;

  std::unordered_map<Hash128, uint32_t, Hash128Hasher> token_ids_;  // text key -> cache slot
  std::vector<std::vector<int32_t>> tokens_;                        // cache slot -> ids
  TrainBatchStats stats_;
};

}  // namespace sbert
