// The contrastive loss of embedding fine-tuning, forward and backward in one call.
//
// Inputs are L2-normalized float embeddings (the output of pooling + l2norm):
//   Q (B, H)      queries
//   P (B, H)      positives: query i's positive is row i
//   N (B*K, H)    hard negatives: row i*K + j is query i's j-th (K may be 0, N then unused)
//   neg_mask      (B*K) bytes or null; 0 marks a missing slot, excluded from the softmax as if
//                 it were absent (no logit, no gradient, not counted by label smoothing)
//
// Modes (docs/training.md has the formulas and their sources):
//   ExclusiveHardNegatives  NeMo's BERT embedding loss: row i scores [Q_i.P_j, j<B] ++
//                           [Q_i.N_{i,k}, k<K], clamped to [-1, 1], divided by softmax_temp.
//   SharedNegatives         sentence-transformers' MultipleNegativesRankingLoss: row i scores
//                           scale * Q_i.[all P ; all valid N] (B + B*K columns), no clamp.
// Both: cross-entropy with target column i (optionally label-smoothed), mean over the B queries.
//
// Gradients dq, dp, dn are ACTIVATION gradients: WRITTEN (=), never accumulated. Each may be
// null (all null: forward only, e.g. validation). Rows of dn for masked slots are written 0.
//
// Numerics: the float entry point computes in double internally (scores, log-sum-exp, GEMMs)
// and rounds only the outputs, so it matches a float64 PyTorch reference to about 1e-7 at
// softmax_temp 0.02, where float32 PyTorch itself is off by ~2e-6 (see docs/training.md).
// The loss is a negligible share of a training step (O(B^2 H) against the encoder's O(T H^2)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/context.h"

namespace sbert {

enum class LossMode { ExclusiveHardNegatives, SharedNegatives };

// "exclusive_hard_negatives" (alias "nemo") | "shared_negatives" (alias "mnrl"); throws otherwise.
LossMode parse_loss_mode(const std::string& name);
const char* to_string(LossMode mode);

struct LossConfig {
  LossMode mode = LossMode::ExclusiveHardNegatives;
  // Doubles, as in the YAML and in Python: 1 / 0.02 must be 50, not 1 / 0.02f.
  double softmax_temp = 0.02;    // ExclusiveHardNegatives: logits = clamp(cos) / softmax_temp
  double scale = 20.0;           // SharedNegatives: logits = scale * cos
  double label_smoothing = 0.0;  // as torch cross_entropy(label_smoothing=), over the valid columns
  // Query rows per block of the score matrix; 0: automatic (score block capped at ~32 MB).
  // Only changes memory use and summation order; tests set it small to cover the blocking.
  int64_t block_rows = 0;

  double logit_scale() const;  // 1/softmax_temp or scale, by mode
  bool clamps() const { return mode == LossMode::ExclusiveHardNegatives; }
};

// Throws "[loss] model.softmax_temp must be positive, got -1" and the like.
void validate(const LossConfig& cfg);

struct LossStats {
  double loss = 0.0;            // mean cross-entropy over the B queries
  double accuracy = 0.0;        // fraction of queries whose argmax logit (first max) is column i
  double pos_score = 0.0;       // mean Q_i.P_i (cosine, before clamp and scale)
  double inbatch_neg_score = 0.0;  // mean Q_i.P_j, i != j (0 when B == 1)
  double hard_neg_score = 0.0;  // mean Q_i.N_{i,k} over valid slots (0 when there are none)
  int64_t hard_negatives = 0;   // valid hard-negative slots (B*K minus masked ones)
};

// dq (B, H), dp (B, H), dn (B*K, H) written; q, p, n as above. On a CUDA Context every pointer
// (neg_mask included) is device memory: cuda/loss.cu computes the same formulas in double on
// the device and only the statistics come back (ops/dispatch.cpp picks the backend).
LossStats contrastive_loss(const Context& ctx, const LossConfig& cfg, float* dq, float* dp,
                           float* dn, const float* q, const float* p, const float* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H);

// The device memory a CUDA Context's contrastive_loss takes for these sizes (with gradients), and
// taking it now: the trainer's memory plan, so that no step allocates. Nothing on the CPU.
size_t contrastive_loss_reserve_bytes(const Context& ctx, const LossConfig& cfg, int64_t B,
                                      int64_t K, int64_t H);
void reserve_contrastive_loss(const Context& ctx, const LossConfig& cfg, int64_t B, int64_t K,
                              int64_t H);

// The same loss entirely in double (CPU): the reference for finite-difference tests.
LossStats contrastive_loss(const LossConfig& cfg, double* dq, double* dp, double* dn,
                           const double* q, const double* p, const double* n,
                           const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H);

}  // namespace sbert
