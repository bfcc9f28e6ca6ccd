// The training objective: which loss GradCache computes on a global batch's embeddings, and the
// one entry point it calls. docs/training.md has every formula, its source and its defaults.
//
//   nemo, mnrl   the contrastive loss of train/loss.h, unchanged (bit-identical): unit inputs.
//   cosent       sentence-transformers' CoSENTLoss on scored pairs (query_i, positive_i, score_i)
//   angle        sentence-transformers' AnglELoss (CoSENT on the AnglE similarity)
//   gist         sentence-transformers' GISTEmbedLoss / CachedGISTEmbedLoss: a guide model's
//                similarities mask in-batch candidates rated above the positive
//   marginmse    sentence-transformers' MarginMSELoss: dot products, teacher margins
//   matryoshka   sentence-transformers' MatryoshkaLoss around any of the above: the base loss on
//                the L2-normalised prefix of each dimension, weighted and summed
//
// Inputs are the model's OUTPUT embeddings as sentence-transformers would hand them to its loss:
// L2-normalised only when the model has a Normalize module (nemo and mnrl without matryoshka
// still take unit vectors: GradCache normalises for them, see unit_inputs()). Each objective
// normalises where sentence-transformers does (cos_sim, pairwise_cos_sim, shrink()).
//
// Gradients are ACTIVATION gradients: WRITTEN (=), never accumulated; null for forward only.
// Numerics: everything is computed in double; the float entry point rounds only the outputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "train/loss.h"

namespace sbert {

enum class ObjectiveKind { Contrastive, CoSENT, AnglE, GIST, MarginMSE };
enum class GistMargin { Absolute, Relative };

struct ObjectiveConfig {
  ObjectiveKind kind = ObjectiveKind::Contrastive;
  LossConfig contrastive;      // Contrastive: nemo (exclusive) or mnrl (shared negatives)
  double cosent_scale = 20.0;  // CoSENTLoss(scale=20.0)
  double angle_scale = 20.0;   // AnglELoss(scale=20.0)
  // GISTEmbedLoss(temperature=0.01, margin_strategy="absolute", margin=0.0,
  //               contrast_anchors=True, contrast_positives=True)
  double gist_temperature = 0.01;
  GistMargin gist_margin_strategy = GistMargin::Absolute;
  double gist_margin = 0.0;
  bool gist_contrast_anchors = true;
  bool gist_contrast_positives = true;
  // MatryoshkaLoss(matryoshka_dims, matryoshka_weights=None, n_dims_per_step=-1); empty dims:
  // no Matryoshka. Dims are taken in decreasing order (as sentence-transformers sorts them).
  std::vector<int64_t> matryoshka_dims;
  std::vector<double> matryoshka_weights;  // empty: 1 for every dim
  // > 0: this many dims per step, drawn by the caller (matryoshka_active), as ST's random.sample
  int64_t matryoshka_n_dims_per_step = -1;
  // Which of matryoshka_dims the current step uses (empty: all); set per step by the trainer.
  std::vector<uint8_t> matryoshka_active;

  ObjectiveConfig() = default;
  // The nemo / mnrl loss alone: what callers of the contrastive loss always passed.
  ObjectiveConfig(const LossConfig& c) : contrastive(c) {}  // NOLINT(google-explicit-constructor)

  bool matryoshka() const { return !matryoshka_dims.empty(); }
  // True when GradCache must L2-normalise the pooled embeddings for the loss (the plain
  // contrastive loss takes unit vectors); false: the model's own head decides.
  bool unit_inputs() const { return kind == ObjectiveKind::Contrastive && !matryoshka(); }
  bool needs_scores() const {
    return kind == ObjectiveKind::CoSENT || kind == ObjectiveKind::AnglE;
  }
  bool needs_margins() const { return kind == ObjectiveKind::MarginMSE; }
  bool needs_guide() const { return kind == ObjectiveKind::GIST; }
};

// "nemo" ... "marginmse", as model.loss spells them; also used in messages.
const char* objective_name(const ObjectiveConfig& cfg);

// One-line errors naming the key: "[loss] model.cosent_scale must be positive, got 0".
// embedding_dim > 0 also checks the Matryoshka dims against it.
void validate(const ObjectiveConfig& cfg, int64_t embedding_dim = 0);

// One global batch (or loss block) of embeddings, as GradCache holds them.
template <class T>
struct LossInputs {
  const T* q = nullptr;               // (B, H) queries / anchors / sentence1
  const T* p = nullptr;               // (B, H) positives / sentence2
  const T* n = nullptr;               // (B*K, H) hard negatives, row i*K + k
  const uint8_t* neg_mask = nullptr;  // (B*K) 0: missing slot (absent everywhere)
  int64_t B = 0, K = 0, H = 0;
  const double* scores = nullptr;   // (B) cosent / angle labels
  const double* margins = nullptr;  // (B*K) marginmse labels: teacher(q,p) - teacher(q,n_k)
  // gist: the guide model's embeddings of the same texts, no gradient
  const T* gq = nullptr;  // (B, GH)
  const T* gp = nullptr;  // (B, GH)
  const T* gn = nullptr;  // (B*K, GH)
  int64_t GH = 0;
};

template <class T>
struct LossGrads {
  T* dq = nullptr;  // (B, H) written
  T* dp = nullptr;  // (B, H) written
  T* dn = nullptr;  // (B*K, H) written (masked rows 0)
  bool any() const { return dq || dp || dn; }
};

// The objective's loss and (when any gradient pointer is set) its gradients. Float: nemo and
// mnrl on either device (device pointers on CUDA, cuda/loss.cu); the others CPU only for now
// ("[loss] cosent has no CUDA implementation yet" on a CUDA context).
LossStats objective_loss(const Context& ctx, const ObjectiveConfig& cfg,
                         const LossInputs<float>& in, const LossGrads<float>& out);
// Entirely in double: the reference of the finite-difference and parity tests.
LossStats objective_loss(const ObjectiveConfig& cfg, const LossInputs<double>& in,
                         const LossGrads<double>& out);

}  // namespace sbert
