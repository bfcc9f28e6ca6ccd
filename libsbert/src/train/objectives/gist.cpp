// GISTEmbedLoss / CachedGISTEmbedLoss (sentence_transformers/sentence_transformer/losses/
// gist_embed.py, cached_gist_embed.py), single process (gather_across_devices=False).
// u = normalised rows of the model's embeddings, g = the guide's (nn.CosineSimilarity):
//   columns of anchor i:  ap: cos(q_i, p_j), j < B       pp (contrast_positives): cos(p_i, p_j)
//                         aa (contrast_anchors): cos(q_i, q_j)   an: cos(q_i, n_s), every valid
//                         negative slot s of the batch (ST: one (B, B) block per negative column)
//   threshold t_i = G(q_i, p_i) - margin (absolute) or G(q_i, p_i) - |G(q_i, p_i)| margin
//   (relative), G the guide's cosine of the same pair; a column whose guide cosine exceeds t_i
//   is masked (-inf), except the positive ap(i, i); aa(i, i) and pp(i, i) are always masked;
//   loss = mean_i cross-entropy(columns / temperature, target ap(i, i)).
// Backward: D = (softmax - onehot) / (B temperature) per block, then
//   dUq = D_ap Up + (D_aa + D_aa^T) Uq + D_an Un,  dUp = D_ap^T Uq + (D_pp + D_pp^T) Up,
//   dUn = D_an^T Uq, and through the normalisation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/gemm.h"
#include "train/objectives/objectives.h"
#include "train/objectives/rows.h"

namespace sbert::objectives {

namespace {

using Vec = std::vector<double>;

// C (m, n) = A (m, k) . B (n, k)^T
void sims(Vec& c, const Vec& a, const Vec& b, int64_t m, int64_t n, int64_t k) {
  c.assign(static_cast<size_t>(m * n), 0.0);
  if (m > 0 && n > 0)
    cpu::gemm(false, true, m, n, k, 1.0, a.data(), k, b.data(), k, 0.0, c.data(), n);
}

}  // namespace

LossStats gist(const ObjectiveConfig& cfg, const LossInputs<double>& in,
               const LossGrads<double>& out) {
  const int64_t B = in.B, K = in.K, H = in.H, GH = in.GH, NK = B * K;
  const double inf = std::numeric_limits<double>::infinity();
  Vec uq, up, un, nq, np, nn, gq, gp, gn, tmp;
  normalize_rows(uq, nq, in.q, B, H, H);
  normalize_rows(up, np, in.p, B, H, H);
  normalize_rows(un, nn, in.n ? in.n : uq.data(), in.n ? NK : 0, H, H);
  normalize_rows(gq, tmp, in.gq, B, GH, GH);
  normalize_rows(gp, tmp, in.gp, B, GH, GH);
  normalize_rows(gn, tmp, in.gn ? in.gn : gq.data(), in.gn ? NK : 0, GH, GH);
  const int64_t nk = in.n ? NK : 0;
  auto valid = [&](int64_t s) { return in.neg_mask == nullptr || in.neg_mask[s] != 0; };

  // Scores (model) and guide similarities per block.
  Vec s_ap, s_aa, s_pp, s_an, g_ap, g_aa, g_pp, g_an;
  sims(s_ap, uq, up, B, B, H);
  sims(g_ap, gq, gp, B, B, GH);
  if (cfg.gist_contrast_anchors) {
    sims(s_aa, uq, uq, B, B, H);
    sims(g_aa, gq, gq, B, B, GH);
  }
  if (cfg.gist_contrast_positives) {
    sims(s_pp, up, up, B, B, H);
    sims(g_pp, gp, gp, B, B, GH);
  }
  sims(s_an, uq, un, B, nk, H);
  sims(g_an, gq, gn, B, nk, GH);

  const double invT = 1.0 / cfg.gist_temperature;
  // Logits in place: masked entries become -inf.
  for (int64_t i = 0; i < B; ++i) {
    const double gs = g_ap[static_cast<size_t>(i * B + i)];
    const double t = cfg.gist_margin_strategy == GistMargin::Absolute
                         ? gs - cfg.gist_margin
                         : gs - std::fabs(gs) * cfg.gist_margin;
    for (int64_t j = 0; j < B; ++j) {
      const size_t e = static_cast<size_t>(i * B + j);
      s_ap[e] = (j != i && g_ap[e] > t) ? -inf : s_ap[e] * invT;
      if (!s_aa.empty()) s_aa[e] = (j == i || g_aa[e] > t) ? -inf : s_aa[e] * invT;
      if (!s_pp.empty()) s_pp[e] = (j == i || g_pp[e] > t) ? -inf : s_pp[e] * invT;
    }
    for (int64_t s = 0; s < nk; ++s) {
      const size_t e = static_cast<size_t>(i * nk + s);
      s_an[e] = (!valid(s) || g_an[e] > t) ? -inf : s_an[e] * invT;
    }
  }

  LossStats st;
  double loss = 0.0, pos = 0.0, inb = 0.0, hard = 0.0;
  int64_t correct = 0, hard_count = 0;
  const double scaleD = 1.0 / (static_cast<double>(B) * cfg.gist_temperature);
  Vec* blocks[4] = {&s_ap, &s_aa, &s_pp, &s_an};
  const int64_t widths[4] = {B, B, B, nk};
  for (int64_t i = 0; i < B; ++i) {
    const double target = s_ap[static_cast<size_t>(i * B + i)];
    double mx = -inf;
    bool first_max_is_target = true;
    for (int b = 0; b < 4; ++b) {
      if (blocks[b]->empty()) continue;
      for (int64_t j = 0; j < widths[b]; ++j) {
        const double x = (*blocks[b])[static_cast<size_t>(i * widths[b] + j)];
        if (x > mx) {
          mx = x;
          first_max_is_target = (b == 0 && j == i);
        }
      }
    }
    double z = 0.0;
    for (int b = 0; b < 4; ++b) {
      if (blocks[b]->empty()) continue;
      for (int64_t j = 0; j < widths[b]; ++j)
        z += std::exp((*blocks[b])[static_cast<size_t>(i * widths[b] + j)] - mx);
    }
    const double lse = mx + std::log(z);
    loss += lse - target;
    correct += first_max_is_target ? 1 : 0;
    pos += target / invT;
    // Softmax minus one-hot, scaled: the gradient w.r.t. the cosines (masked entries: 0).
    for (int b = 0; b < 4; ++b) {
      if (blocks[b]->empty()) continue;
      for (int64_t j = 0; j < widths[b]; ++j) {
        double& x = (*blocks[b])[static_cast<size_t>(i * widths[b] + j)];
        x = (std::exp(x - lse) - (b == 0 && j == i ? 1.0 : 0.0)) * scaleD;
      }
    }
  }
  // In-batch and hard-negative cosines for the statistics (unmasked, model side).
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t j = 0; j < B; ++j) {
      if (j == i) continue;
      double c = 0.0;
      for (int64_t h = 0; h < H; ++h)
        c += uq[static_cast<size_t>(i * H + h)] * up[static_cast<size_t>(j * H + h)];
      inb += c;
    }
    for (int64_t k = 0; k < K && in.n; ++k) {
      const int64_t s = i * K + k;
      if (!valid(s)) continue;
      double c = 0.0;
      for (int64_t h = 0; h < H; ++h)
        c += uq[static_cast<size_t>(i * H + h)] * un[static_cast<size_t>(s * H + h)];
      hard += c;
      ++hard_count;
    }
  }
  st.loss = loss / static_cast<double>(B);
  st.accuracy = static_cast<double>(correct) / static_cast<double>(B);
  st.pos_score = pos / static_cast<double>(B);
  st.inbatch_neg_score = B > 1 ? inb / static_cast<double>(B * (B - 1)) : 0.0;
  st.hard_neg_score = hard_count > 0 ? hard / static_cast<double>(hard_count) : 0.0;
  st.hard_negatives = hard_count;
  if (!out.any()) return st;

  // Symmetric blocks: D + D^T.
  for (Vec* d : {&s_aa, &s_pp}) {
    if (d->empty()) continue;
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = i; j < B; ++j) {
        const double v =
            (*d)[static_cast<size_t>(i * B + j)] + (*d)[static_cast<size_t>(j * B + i)];
        (*d)[static_cast<size_t>(i * B + j)] = v;
        (*d)[static_cast<size_t>(j * B + i)] = v;
      }
  }
  Vec duq(static_cast<size_t>(B * H), 0.0), dup(static_cast<size_t>(B * H), 0.0),
      dun(static_cast<size_t>(nk * H), 0.0);
  cpu::gemm(false, false, B, H, B, 1.0, s_ap.data(), B, up.data(), H, 0.0, duq.data(), H);
  if (!s_aa.empty())
    cpu::gemm(false, false, B, H, B, 1.0, s_aa.data(), B, uq.data(), H, 1.0, duq.data(), H);
  if (nk > 0)
    cpu::gemm(false, false, B, H, nk, 1.0, s_an.data(), nk, un.data(), H, 1.0, duq.data(), H);
  cpu::gemm(true, false, B, H, B, 1.0, s_ap.data(), B, uq.data(), H, 0.0, dup.data(), H);
  if (!s_pp.empty())
    cpu::gemm(false, false, B, H, B, 1.0, s_pp.data(), B, up.data(), H, 1.0, dup.data(), H);
  if (nk > 0)
    cpu::gemm(true, false, nk, H, B, 1.0, s_an.data(), nk, uq.data(), H, 0.0, dun.data(), H);
  if (out.dq)
    normalize_rows_backward(out.dq, H, duq.data(), uq.data(), nq.data(), B, H, 1.0, false);
  if (out.dp)
    normalize_rows_backward(out.dp, H, dup.data(), up.data(), np.data(), B, H, 1.0, false);
  if (out.dn) {
    std::fill(out.dn, out.dn + NK * H, 0.0);
    if (nk > 0)
      normalize_rows_backward(out.dn, H, dun.data(), un.data(), nn.data(), nk, H, 1.0, false);
    for (int64_t s = 0; s < NK; ++s)
      if (!valid(s)) std::fill(out.dn + s * H, out.dn + (s + 1) * H, 0.0);
  }
  return st;
}

}  // namespace sbert::objectives
