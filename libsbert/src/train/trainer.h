// Trainer: contrastive fine-tuning of a BERT sentence encoder, as NeMo's Megatron-BERT embedding
// fine-tuning does it, on one process (data parallelism arrives with dist/).
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
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "train/config.h"

namespace sbert {

struct TrainerHooks {
  // After each optimizer step (and its checkpoint, if one was due): for tests and tools.
  std::function<void(int64_t step, double loss)> after_step;
  // Between writing a checkpoint's files and renaming its folder into place (fault injection).
  std::function<void(int64_t step)> before_checkpoint_commit;
};

struct TrainResult {
  int64_t steps = 0;         // optimizer steps taken in total (resumed ones included)
  int64_t resumed_from = 0;  // step of the checkpoint resumed from (0: fresh start)
  double last_loss = 0;
  std::filesystem::path log_dir;
  std::filesystem::path last_checkpoint;
  std::filesystem::path plot;  // loss, lr and validation curves (SVG) beside metrics.jsonl
};

TrainResult train(const TrainConfig& cfg, const TrainerHooks& hooks = {});

}  // namespace sbert
