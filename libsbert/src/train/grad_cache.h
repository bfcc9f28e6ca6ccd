// GradCache (Gao et al., 2021) for contrastive training at any global batch size:
//   phase 1: embed every micro-batch without keeping activations;
//   the loss over the whole global batch on the cached embeddings, and its gradient;
//   phase 2: re-run each micro-batch with activations (the same dropout masks: the counter-based
//            RNG is keyed by the micro-batch index) and backpropagate its slice.
// Every query sees all global-batch positives as in-batch negatives, at the activation memory
// of one micro-batch. With a single micro-batch, phase 1 keeps its activations and nothing is
// recomputed. Queries, positives and real hard negatives of a micro-batch run as ONE packed
// stream; masked negative slots are not encoded.
#pragma once

#include <cstdint>
#include <vector>

#include "api/model_impl.h"
#include "core/context.h"
#include "core/rng.h"
#include "data/train_batches.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "train/loss.h"

namespace sbert {

class GradCache {
 public:
  // model: weights and config (its dropout probabilities are used when training).
  GradCache(const Context& ctx, const Model::Impl& model);

  // Zeroes grads (layout.total floats) and writes the gradient of the mean loss over the
  // global batch. dropout.micro is set per micro-batch. Returns the loss statistics; *tokens
  // receives the real tokens encoded (phase 1).
  LossStats gradients(const TrainBatch& batch, size_t micro_batch_size, const LossConfig& loss,
                      DropoutState dropout, const BertView& grads, float* grad_block,
                      int64_t* tokens);

  // The loss alone (no dropout, no gradient): validation.
  LossStats loss_only(const TrainBatch& batch, size_t micro_batch_size, const LossConfig& loss);

 private:
  struct Dest {
    uint8_t kind;  // 0 query, 1 positive, 2 hard negative
    int64_t row;
  };
  struct Chunk {
    PackedBatch batch;
    std::vector<Dest> dest;  // (nseq) where each sequence's embedding goes
  };
  static Chunk pack(const TrainBatch& global, size_t begin, size_t end);
  std::vector<Chunk> chunks(const TrainBatch& batch, size_t micro) const;
  void forward(const Chunk& c, const DropoutState& d, bool keep);
  void scatter(const Chunk& c);  // pool_.out rows -> embedding matrices
  float* row(uint8_t kind, int64_t r, bool grad);
  void resize(int64_t G, int64_t K);

  Context ctx_;
  const Model::Impl& model_;
  ModelConfig head_cfg_;  // the model's, with normalize on: the loss takes unit vectors
  int64_t H_;
  EncoderCache cache_;
  PoolingCache pool_;
  std::vector<float> q_, p_, n_, dq_, dp_, dn_;  // (G, H), (G, H), (G*K, H) and gradients
  std::vector<float> dout_, dhidden_;
};

}  // namespace sbert
