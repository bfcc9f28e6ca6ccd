// Trainer (sbert/train.h): contrastive fine-tuning of a BERT sentence encoder, as NeMo's
// Megatron-BERT embedding fine-tuning does it, on one process or data-parallel over a
// Communicator (docs/distributed.md).
//
// One optimizer step on a global batch of G queries:
//   1. GradCache phase 1: embed every micro-batch (queries, positives, hard negatives in ONE
//      packed stream) without keeping activations -> (G, H), (G, H), (G*K, H), L2-normalized.
//   2. The loss over the whole global batch on those embeddings, with its gradient: every query
//      sees all G in-batch positives (plain accumulation would see only a micro-batch's).
//   3. Phase 2: re-run each micro-batch with activations (same dropout masks) and backpropagate
//      its slice of the embedding gradient; parameter gradients add up.
//   With one micro-batch per step, phase 1 keeps its activations and nothing is recomputed.
//   4. Clip the global gradient norm, AdamW, the NeMo learning-rate schedule.
// Data parallel (W ranks): each rank takes its G/W rows of every global batch; step 2 sees the
// all-gathered embeddings (model.global_inbatch_negatives) or the rank's own rows; step 3's
// gradients are all-reduced in buckets as backward completes each layer; steps 4+ run on the
// summed gradient, identically on every rank. Rank 0 alone writes logs and checkpoints.
//
// This header: the internal entry points the tests use (train/fit.cpp defines them).
#pragma once

#include <cstdint>
#include <functional>

#include "sbert/train.h"
#include "train/config.h"

namespace sbert {

class Communicator;

struct TrainerHooks {
  // After each optimizer step (and its checkpoint, if one was due).
  std::function<void(int64_t step, double loss)> after_step;
  // Between writing a checkpoint's files and renaming its folder into place (fault injection).
  std::function<void(int64_t step)> before_checkpoint_commit;
  // Split each rank's loss into this many independent blocks of rows. One process with
  // model.global_inbatch_negatives=false and loss_blocks = W computes what W ranks compute.
  int loss_blocks = 1;
};

// A Trainer on a communicator the caller keeps (null: one process), with loss_blocks.
Trainer make_trainer(const TrainOptions& options, Communicator* comm, int loss_blocks = 1);

// fit()'s loop on a given Trainer.
TrainResult fit_trainer(Trainer& trainer, const FitCallbacks& callbacks);

// fit() with the test hooks; comm's size must equal trainer.devices x trainer.num_nodes.
TrainResult train(const TrainConfig& cfg, const TrainerHooks& hooks = {},
                  Communicator* comm = nullptr);

}  // namespace sbert
