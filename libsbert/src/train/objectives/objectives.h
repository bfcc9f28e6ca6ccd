// The objectives of train/objective.h other than the contrastive loss, each in double on the
// CPU (train/objective.cpp converts, checks and dispatches; it also wraps them in Matryoshka).
// One file per objective; rows.h has the L2 normalisation they share (torch's F.normalize).
// Gradients are written (=); LossGrads pointers may be null.
#pragma once

#include "train/objective.h"

namespace sbert::objectives {

// cosent.cpp: CoSENTLoss (angle = false) and AnglELoss (angle = true) on (q_i, p_i, scores_i).
LossStats cosent(const ObjectiveConfig& cfg, bool angle, const LossInputs<double>& in,
                 const LossGrads<double>& out);

// gist.cpp: GISTEmbedLoss / CachedGISTEmbedLoss.
LossStats gist(const ObjectiveConfig& cfg, const LossInputs<double>& in,
               const LossGrads<double>& out);

// margin_mse.cpp: MarginMSELoss with pairwise_dot_score.
LossStats margin_mse(const LossInputs<double>& in, const LossGrads<double>& out);

}  // namespace sbert::objectives
