// GradCache (Gao et al., 2021) for contrastive training at any global batch size:
//   phase 1: embed every micro-batch without keeping activations;
//   the loss over the whole global batch on the cached embeddings, and its gradient;
//   phase 2: re-run each micro-batch with activations (the same dropout masks: the counter-based
//            RNG is keyed by the micro-batch index) and backpropagate its slice.
// Every query sees all global-batch positives as in-batch negatives, at the activation memory
// of one micro-batch. With a single micro-batch, phase 1 keeps its activations and nothing is
// recomputed. Queries, positives and real hard negatives of a micro-batch run as ONE packed
// stream; masked negative slots are not encoded.
//
// Data parallelism (DataParallel below): the batch given is this rank's share of the global
// batch (rows [rank*G/W, (rank+1)*G/W)). Micro-batch c of rank r uses dropout stream
// r * chunks + c, the index it has in one process, so W ranks with micro-batch B replay the
// masks of one process running the global batch in micro-batches of B.
//   global_negatives (model.global_inbatch_negatives, NeMo's name): the embeddings of every rank
//     are all-gathered and each rank computes the loss of the WHOLE global batch (every query
//     against every positive), then backpropagates its own rows' slice of that exact gradient.
//     Summed over ranks (the gradient all-reduce) this is the gradient of one process's loss;
//     NeMo's default path instead scales it by 1/world_size. The gathered loss is O(G^2 H) on
//     every rank: negligible next to the encoder.
//   otherwise: each rank's loss sees its own G/W rows only (NeMo's semantics with the flag off);
//     the objective is the mean of the W per-rank losses, so each rank's embedding gradient is
//     scaled by 1/W. loss_blocks > 1 splits a rank's rows further into independent blocks:
//     ONE process with loss_blocks = W computes exactly what W ranks compute (the reference of
//     the tests).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "api/model_impl.h"
#include "core/context.h"
#include "core/rng.h"
#include "data/train_batches.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "sbert/tokenizer.h"
#include "train/loss.h"
#include "train/objective.h"

namespace sbert {

class Communicator;

struct DataParallel {
  Communicator* comm = nullptr;  // null or one rank: a single process
  bool global_negatives = true;  // model.global_inbatch_negatives
  int loss_blocks = 1;           // independent loss blocks per rank (see above)
};

// gist with a guide that must re-tokenize (sentence-transformers' must_retokenize: another
// vocabulary, or a shorter max_seq_length): each sequence's ids are decoded by `from` (the
// trained model's tokenizer, batch_decode with skip_special_tokens) and encoded by `to` (the
// guide's) truncated to max_length, as GISTEmbedLoss's guide.preprocess. Null: same ids.
struct GuideRetokenize {
  const Tokenizer* from = nullptr;
  const Tokenizer* to = nullptr;
  int max_length = 0;
};

class GradCache {
 public:
  // model: weights and config (its dropout probabilities are used when training). On a CUDA
  // Context the encoder runs on the device: set_weights() gives it the device weights and the
  // gradient block given to gradients() is device memory. The contrastive loss (nemo, mnrl)
  // runs on the device too (cuda/loss.cu): the embeddings stay in device memory (W > 1 ranks
  // all-gather them there for global negatives) and only the loss statistics come to the host.
  // Every other objective, and loss_blocks > 1, bring the G embedding rows to the host for the
  // loss and send their gradients back.
  GradCache(const Context& ctx, const Model::Impl& model, DataParallel dp = {});

  // The weights the encoder reads (default: the model's own view, host memory); a view of the
  // same layout on ctx's device for a CUDA Context.
  void set_weights(const BertView& weights) { view_ = weights; }
  // 16-mixed (train/loss_scale.h): the embedding gradients entering the encoder's backward are
  // multiplied by scale (torch: backward of loss x scale), so the gradient block holds the
  // scaled gradient; 1 (the default) elsewhere.
  void set_loss_scale(float scale) { loss_scale_ = scale; }

  // Zeroes grads (layout.total floats) and writes this rank's gradient of the mean loss over
  // the global batch (summed over ranks by the caller's all-reduce). dropout.micro is set per
  // micro-batch. Returns the loss statistics of the global batch (the same on every rank);
  // *tokens receives the real tokens this rank encoded (phase 1). on_grads_done(l) is called
  // as the LAST micro-batch's backward completes layer l's gradients (encoder_backward).
  // The objective (train/objective.h) decides the head: the plain nemo / mnrl loss takes unit
  // vectors (normalised here, as always); every other objective gets the model's own output
  // (normalised only when the model has a Normalize module) and normalises where
  // sentence-transformers does.
  LossStats gradients(const TrainBatch& batch, size_t micro_batch_size, const ObjectiveConfig& loss,
                      DropoutState dropout, const BertView& grads, float* grad_block,
                      int64_t* tokens, const std::function<void(int)>& on_grads_done = {});

  // The loss alone (no dropout, no gradient): validation.
  LossStats loss_only(const TrainBatch& batch, size_t micro_batch_size,
                      const ObjectiveConfig& loss);

  // Sizes every buffer of a step whose micro-batches hold up to `rows` rows of a query
  // (query_len tokens at most), a positive and k hard negatives (passage_len each), so that the
  // steps allocate nothing: the trainer's device memory plan, made once before the first step.
  void reserve(int64_t rows, int64_t k, int64_t query_len, int64_t passage_len);
  // The bytes reserve() would allocate, allocating nothing.
  size_t reserve_bytes(int64_t rows, int64_t k, int64_t query_len, int64_t passage_len) const;

  // Sizes the device loss's buffers (the G rows of queries, positives and K negative slots and
  // their gradients, the mask, a micro-batch's row map for up to `micro` rows, the loss's
  // scratch) so that the steps allocate nothing: part of the trainer's device memory plan.
  // Nothing when cfg's loss does not run on the device (see the constructor's comment).
  void reserve_loss(const ObjectiveConfig& cfg, int64_t G, int64_t K, int64_t micro);
  // The bytes reserve_loss() would allocate, allocating nothing.
  size_t reserve_loss_bytes(const ObjectiveConfig& cfg, int64_t G, int64_t K, int64_t micro) const;

  // gist: the guide model, run without dropout or gradient in phase 1, on the same token ids
  // (the caller checks that the vocabularies are equal) or re-tokenized (retok). Null: none.
  // Must outlive this, as the tokenizers.
  void set_guide(const Model::Impl* guide, GuideRetokenize retok = {});

 private:
  struct Dest {
    uint8_t kind;  // 0 query, 1 positive, 2 hard negative
    int64_t row;
  };
  struct Chunk {
    PackedBatch batch;
    std::vector<Dest> dest;                  // (nseq) where each sequence's embedding goes
    std::vector<std::vector<int32_t>> seqs;  // (nseq) the token ids packed in batch
  };
  static Chunk pack(const TrainBatch& global, size_t begin, size_t end);
  std::vector<Chunk> chunks(const TrainBatch& batch, size_t micro) const;
  void forward(const Chunk& c, const DropoutState& d, bool keep);
  void scatter(const Chunk& c);  // pool_.out rows -> embedding matrices
  // True when the objective's loss runs on ctx's device (see the constructor's comment).
  bool device_loss(const ObjectiveConfig& cfg) const;
  const int64_t* stage_rows(const Chunk& c);  // c's rows of emb_, on the device
  void forward_guide(const Chunk& c);         // the guide's embeddings of a chunk -> guide_*_
  float* row(uint8_t kind, int64_t r, bool grad);
  void resize(int64_t G, int64_t K);
  void set_head(const ObjectiveConfig& cfg);
  // The loss of the global batch on the cached embeddings; writes dq_, dp_, dn_ when grads.
  LossStats loss(const TrainBatch& batch, const ObjectiveConfig& cfg, bool grads);
  // loss() on the device (device_loss_): emb_ in, demb_ out, over W ranks.
  LossStats device_loss_step(const TrainBatch& batch, const ObjectiveConfig& cfg, bool grads);
  // Means over ranks of per-block statistics (`parts` blocks over all ranks; a host
  // all-reduce when W > 1).
  LossStats mean_over_ranks(const std::vector<LossStats>& blocks, double parts);
  int world() const;
  int rank() const;

  Context ctx_;
  float loss_scale_ = 1.0f;
  const Model::Impl& model_;
  BertView view_;
  ModelConfig head_cfg_;  // the model's; normalize on when the objective takes unit vectors
  int64_t H_;
  EncoderCache cache_;
  PoolingCache pool_;
  DataParallel par_;
  // This rank's rows (G of them): (G, H), (G, H), (G*K, H) and their gradients
  std::vector<float> q_, p_, n_, dq_, dp_, dn_;
  // Gathered over ranks (global_negatives): (W*G, H), (W*G, H), (W*G*K, H), gradients, mask
  std::vector<float> gq_, gp_, gn_, gdq_, gdp_, gdn_;
  std::vector<uint8_t> gmask_;
  std::vector<double> gscores_, gmargins_;             // (W*G), (W*G*K)
  std::vector<float> gguide_q_, gguide_p_, gguide_n_;  // (W*G, GH), (W*G, GH), (W*G*K, GH)
  // The loss on the device (device_loss_): this step's rows and gradients in device memory,
  // (G + G + G*K, H): queries, positives, hard-negative slots (masked slots never written).
  bool device_loss_ = false;
  int64_t G_ = 0;
  Buffer<float> emb_, demb_;
  Buffer<uint8_t> mask_dev_;  // (G*K) the negative mask
  // W > 1 with global_negatives: every rank's rows gathered on the device, (W*G + W*G + W*G*K,
  // H) queries, positives, hard-negative slots in rank order, their gradients and mask, and
  // where this rank's rows sit in them ((2G + G*K) indices).
  Buffer<float> gemb_, gdemb_;
  Buffer<uint8_t> gmask_dev_;
  std::vector<int64_t> mine_host_;
  Buffer<int64_t> mine_dev_;
  std::vector<int64_t> rows_host_;  // (nseq) a chunk's sequences' rows of emb_
  Buffer<int64_t> rows_dev_;        // rows_host_ on the device
  std::vector<float> dout_;         // (nseq, H) a chunk's embedding gradients (host)
  std::vector<float> out_host_;     // (nseq, H) a chunk's embeddings read back from a device
  Buffer<float> dout_staged_;       // (nseq, H) a chunk's gradients on ctx's device (unused on CPU)
  Buffer<float> dhidden_;           // (T, H) on ctx's device
  // gist's guide: its caches and this rank's guide embeddings (G, GH), (G, GH), (G*K, GH)
  const Model::Impl* guide_ = nullptr;
  EncoderCache guide_cache_;
  PoolingCache guide_pool_;
  GuideRetokenize retok_;
  std::vector<std::vector<int32_t>> guide_seqs_;  // a chunk's sequences re-tokenized
  PackedBatch guide_batch_;
  std::vector<float> guide_q_, guide_p_, guide_n_;
};

}  // namespace sbert
