// MarginMSELoss (sentence_transformers/sentence_transformer/losses/margin_mse.py) with its default
// similarity, pairwise_dot_score, on the embeddings as given (NOT renormalised):
//   pred_ik = q_i.p_i - q_i.n_ik,   loss = mean over the valid slots (i, k) of (pred_ik - m_ik)^2
// m_ik the teacher margin of the data (TrainBatch::margins). With every slot valid this is ST's
// nn.MSELoss() over its (B, K) margin matrix, single (K = 1) or multiple negatives alike; a
// masked slot (a record with no negatives) is absent from the mean.
// Backward: g_ik = 2 (pred_ik - m_ik) / count; dq_i = sum_k g_ik (p_i - n_ik),
// dp_i = sum_k g_ik q_i, dn_ik = -g_ik q_i.
#include <algorithm>

#include "train/objectives/objectives.h"

namespace sbert::objectives {

LossStats margin_mse(const LossInputs<double>& in, const LossGrads<double>& out) {
  const int64_t B = in.B, K = in.K, H = in.H;
  auto valid = [&](int64_t slot) { return in.neg_mask == nullptr || in.neg_mask[slot] != 0; };
  auto dot = [H](const double* a, const double* b) {
    double s = 0.0;
    for (int64_t h = 0; h < H; ++h) s += a[h] * b[h];
    return s;
  };
  std::vector<double> pos(static_cast<size_t>(B)), err(static_cast<size_t>(B * K), 0.0);
  int64_t count = 0;
  double sq = 0.0, pos_sum = 0.0, neg_sum = 0.0;
  for (int64_t i = 0; i < B; ++i) {
    pos[static_cast<size_t>(i)] = dot(in.q + i * H, in.p + i * H);
    pos_sum += pos[static_cast<size_t>(i)];
    for (int64_t k = 0; k < K; ++k) {
      const int64_t s = i * K + k;
      if (!valid(s)) continue;
      const double neg = dot(in.q + i * H, in.n + s * H);
      neg_sum += neg;
      const double e = pos[static_cast<size_t>(i)] - neg - in.margins[s];
      err[static_cast<size_t>(s)] = e;
      sq += e * e;
      ++count;
    }
  }
  LossStats st;
  st.loss = count > 0 ? sq / static_cast<double>(count) : 0.0;
  st.pos_score = pos_sum / static_cast<double>(B);
  st.hard_neg_score = count > 0 ? neg_sum / static_cast<double>(count) : 0.0;
  st.hard_negatives = count;
  if (!out.any()) return st;
  const double c = count > 0 ? 2.0 / static_cast<double>(count) : 0.0;
  for (int64_t i = 0; i < B; ++i) {
    const double* qi = in.q + i * H;
    const double* pi = in.p + i * H;
    double gsum = 0.0;
    if (out.dq) std::fill(out.dq + i * H, out.dq + (i + 1) * H, 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const int64_t s = i * K + k;
      const double g = valid(s) ? c * err[static_cast<size_t>(s)] : 0.0;
      gsum += g;
      if (out.dn) {
        for (int64_t h = 0; h < H; ++h) out.dn[s * H + h] = -g * qi[h];
      }
      if (out.dq && g != 0.0) {
        const double* nk = in.n + s * H;
        for (int64_t h = 0; h < H; ++h) out.dq[i * H + h] -= g * nk[h];
      }
    }
    if (out.dq) {
      for (int64_t h = 0; h < H; ++h) out.dq[i * H + h] += gsum * pi[h];
    }
    if (out.dp) {
      for (int64_t h = 0; h < H; ++h) out.dp[i * H + h] = gsum * qi[h];
    }
  }
  return st;
}

}  // namespace sbert::objectives
