#include "data/batch_sampler.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "data/seeded_rng.h"

namespace sbert {

const char* dataset_sampler_name(DatasetSampler s) {
  return s == DatasetSampler::RoundRobin ? "round_robin" : "proportional";
}

MultiBatchBuilder::MultiBatchBuilder(std::vector<SampledDataset> datasets, DatasetSampler sampler,
                                     const TrainBatchOptions& options,
                                     TrainBatchBuilder::TokenizeBatchFn tokenize)
    : sampler_(sampler), opt_(options) {
  SBERT_CHECK(!datasets.empty(), "[train-data] no training dataset");
  for (size_t i = 0; i < datasets.size(); ++i) {
    const SampledDataset& d = datasets[i];
    SBERT_CHECK(d.data != nullptr, "[train-data] dataset ", i, " is missing");
    SBERT_CHECK(std::isfinite(d.weight) && d.weight > 0, "[train-data] ", d.data->name(),
                ": the sampling weight must be positive, got ", d.weight);
    SBERT_CHECK(sampler != DatasetSampler::RoundRobin || d.weight == 1.0 || datasets.size() == 1,
                "[train-data] ", d.data->name(), ": the round_robin sampler takes every dataset "
                "in turn; a weight (", d.weight, ") needs the proportional sampler");
    TrainBatchOptions o = options;
    o.seed = options.seed + i;  // dataset 0 alone: the single-dataset stream
    builders_.push_back(std::make_unique<TrainBatchBuilder>(d.data, o, tokenize));
  }
  const size_t smallest = [&] {
    size_t m = SIZE_MAX;
    for (const auto& b : builders_) m = std::min(m, b->max_batches_per_epoch());
    return m;
  }();
  for (size_t i = 0; i < builders_.size(); ++i) {
    const auto n = static_cast<double>(builders_[i]->max_batches_per_epoch());
    per_round_.push_back(sampler == DatasetSampler::RoundRobin
                             ? smallest
                             : std::max<size_t>(1, static_cast<size_t>(
                                                       std::llround(datasets[i].weight * n))));
  }
}

size_t MultiBatchBuilder::max_batches_per_epoch() const {
  if (builders_.size() == 1) return builders_[0]->max_batches_per_epoch();
  size_t n = 0;
  for (size_t c : per_round_) n += c;
  return n;
}

std::vector<uint32_t> MultiBatchBuilder::schedule(uint64_t round) const {
  std::vector<uint32_t> order;
  if (builders_.size() == 1) return order;
  const auto D = static_cast<uint32_t>(builders_.size());
  if (sampler_ == DatasetSampler::RoundRobin) {
    for (size_t r = 0; r < per_round_[0]; ++r)
      for (uint32_t i = 0; i < D; ++i) order.push_back(i);
    return order;
  }
  for (uint32_t i = 0; i < D; ++i) order.insert(order.end(), per_round_[i], i);
  std::mt19937_64 rng = make_rng(opt_.seed, kSamplerStream, round, 0);
  for (size_t i = order.size() - 1; i > 0; --i) {
    std::swap(order[i], order[uniform_below(rng, i + 1)]);
  }
  return order;
}

TrainBatch MultiBatchBuilder::next_shard(int rank, int world_size) {
  if (builders_.size() == 1) return builders_[0]->next_shard(rank, world_size);
  if (order_round_ != round_) {
    order_ = schedule(round_);
    order_round_ = round_;
  }
  if (in_round_ >= order_.size()) {
    ++round_;
    in_round_ = 0;
    order_ = schedule(round_);
    order_round_ = round_;
  }
  const uint32_t i = order_[in_round_];
  TrainBatch b = builders_[i]->next_shard(rank, world_size);
  b.dataset = i;
  b.epoch = round_;
  b.index_in_epoch = in_round_;
  ++in_round_;
  return b;
}

DataPosition MultiBatchBuilder::position() const {
  if (builders_.size() == 1) return builders_[0]->position();
  DataPosition p;
  p.sampler = dataset_sampler_name(sampler_);
  p.epoch = round_;
  p.batch_in_epoch = in_round_;
  p.seed = opt_.seed;
  p.global_batch_size = opt_.global_batch_size;
  for (const auto& b : builders_) p.datasets.push_back(b->position());
  return p;
}

void MultiBatchBuilder::restore(const DataPosition& p) {
  if (builders_.size() == 1) {
    SBERT_CHECK(p.datasets.empty(), "[train-data] cannot resume: the position was saved with ",
                p.datasets.size(), " datasets but this run has 1");
    builders_[0]->restore(p);
    return;
  }
  SBERT_CHECK(p.datasets.size() == builders_.size(), "[train-data] cannot resume: the position "
              "was saved with ", std::max<size_t>(1, p.datasets.size()),
              " datasets but this run has ", builders_.size());
  SBERT_CHECK(p.sampler == dataset_sampler_name(sampler_), "[train-data] cannot resume: the "
              "position was saved with sampler ", p.sampler, " but this run has ",
              dataset_sampler_name(sampler_));
  SBERT_CHECK(p.seed == opt_.seed, "[train-data] cannot resume: the position was saved with seed ",
              p.seed, " but this run has ", opt_.seed);
  SBERT_CHECK(p.batch_in_epoch <= max_batches_per_epoch(), "[train-data] cannot resume: batch ",
              p.batch_in_epoch, " of a round of ", max_batches_per_epoch());
  for (size_t i = 0; i < builders_.size(); ++i) builders_[i]->restore(p.datasets[i]);
  round_ = p.epoch;
  in_round_ = p.batch_in_epoch;
}

}  // namespace sbert
