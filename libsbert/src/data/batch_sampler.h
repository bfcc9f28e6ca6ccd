// Several training datasets in one run: each global batch is drawn from ONE dataset, as
// sentence-transformers' multi-dataset batch samplers do (docs/data.md).
//
// Rules of this file:
// - Each dataset has its own batch stream (a TrainBatchBuilder, seeded seed + its index), which
//   runs on through its own epochs; the sampler only decides which stream gives the next batch.
// - A round (the run's "epoch": TrainBatch::epoch, trainer.max_epochs) is a schedule of dataset
//   indices, n_i = floor(records_i / global_batch_size) batches of dataset i a round:
//     proportional (ProportionalBatchSampler): dataset i appears max(1, round(weight_i x n_i))
//       times, in an order shuffled from (seed, round);
//     round_robin (RoundRobinBatchSampler): 0, 1, ..., D-1 repeated min_i n_i times (the round
//       ends when the smallest dataset is used up); weights must be 1.
//   With proportional and dedupe_in_batch off, a round is exactly one epoch of every dataset.
// - position()/restore(): the round, the batches of it taken and every stream's position, so
//   kill-and-resume yields the same batches. With one dataset this is TrainBatchBuilder itself
//   (the same batches and the same position JSON as before several datasets existed).
// - TrainBatch::records index the batch's own dataset (TrainBatch::dataset).
#pragma once

#include <memory>
#include <vector>

#include "data/train_batches.h"

namespace sbert {

struct SampledDataset {
  std::shared_ptr<const TrainDataset> data;
  double weight = 1.0;
};

const char* dataset_sampler_name(DatasetSampler s);  // "proportional", "round_robin"

class MultiBatchBuilder {
 public:
  // Throws when a dataset has fewer records than one global batch (naming it), a weight is not
  // positive, or round_robin is given weights.
  MultiBatchBuilder(std::vector<SampledDataset> datasets, DatasetSampler sampler,
                    const TrainBatchOptions& options, TrainBatchBuilder::TokenizeBatchFn tokenize);

  TrainBatch next() { return next_shard(0, 1); }
  TrainBatch next_shard(int rank, int world_size);

  DataPosition position() const;
  void restore(const DataPosition& pos);

  // Batches in one round (one dataset: its max_batches_per_epoch()).
  size_t max_batches_per_epoch() const;
  size_t num_datasets() const { return builders_.size(); }
  const TrainBatchBuilder& dataset(size_t i) const { return *builders_.at(i); }
  // The round's schedule of dataset indices (empty with one dataset).
  std::vector<uint32_t> schedule(uint64_t round) const;

 private:
  std::vector<std::unique_ptr<TrainBatchBuilder>> builders_;
  std::vector<size_t> per_round_;  // batches of each dataset in a round
  DatasetSampler sampler_;
  TrainBatchOptions opt_;
  uint64_t round_ = 0, in_round_ = 0;
  std::vector<uint32_t> order_;  // schedule(order_round_)
  uint64_t order_round_ = UINT64_MAX;
};

}  // namespace sbert
