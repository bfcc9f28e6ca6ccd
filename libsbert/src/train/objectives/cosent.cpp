// CoSENTLoss and AnglELoss (sentence_transformers/sentence_transformer/losses/cosent.py, angle.py)
// on scored pairs (q_i, p_i, y_i), i < B:
//   s_i  = scale * sim(q_i, p_i)       sim: pairwise_cos_sim (cosent) or pairwise_angle_sim (angle)
//   loss = log(1 + sum_{(i, j): y_j > y_i} exp(s_i - s_j))
// which is what ST's logcumsumexp over the label-sorted scores computes (ties never pair).
// pairwise_angle_sim: u, v the L2-normalised rows (padded with one 0 when H is odd), halves
// a = u[:h], b = u[h:], c = v[:h], d = v[h:] (h = ceil(H/2)); sim = |u.v + sum(b c - a d)|.
// Backward: w_ij = exp(s_i - s_j - loss) for each counted pair; ds_i = sum_j w_ij - sum_j w_ji;
// through the similarity to u, v, then through the normalisation (torch.abs' gradient is
// sign(x), 0 at 0). O(B^2) in the pair count: B is a batch, not a corpus.
#include <cmath>
#include <limits>
#include <vector>

#include "train/objectives/objectives.h"
#include "train/objectives/rows.h"

namespace sbert::objectives {

LossStats cosent(const ObjectiveConfig& cfg, bool angle, const LossInputs<double>& in,
                 const LossGrads<double>& out) {
  const int64_t B = in.B, H = in.H, h = (H + 1) / 2;
  const double scale = angle ? cfg.angle_scale : cfg.cosent_scale;
  std::vector<double> u, v, nu, nv;
  normalize_rows(u, nu, in.q, B, H, H);
  normalize_rows(v, nv, in.p, B, H, H);
  auto at = [H](const double* row, int64_t j) { return j < H ? row[j] : 0.0; };  // zero pad

  std::vector<double> sim(static_cast<size_t>(B)), raw(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    const double* ui = u.data() + i * H;
    const double* vi = v.data() + i * H;
    double c = 0.0;
    for (int64_t j = 0; j < H; ++j) c += ui[j] * vi[j];
    if (angle) {
      double s = 0.0;
      for (int64_t j = 0; j < h; ++j) s += at(ui, h + j) * vi[j] - ui[j] * at(vi, h + j);
      raw[static_cast<size_t>(i)] = c + s;
      sim[static_cast<size_t>(i)] = std::fabs(c + s);
    } else {
      sim[static_cast<size_t>(i)] = c;
    }
  }
  // loss = logsumexp over {0} and every term s_i - s_j with y_j > y_i (max-shifted).
  const double* y = in.scores;
  auto term = [&](int64_t i, int64_t j) {
    return scale * (sim[static_cast<size_t>(i)] - sim[static_cast<size_t>(j)]);
  };
  double mx = 0.0;
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j)
      if (y[j] > y[i]) mx = std::max(mx, term(i, j));
  double z = std::exp(-mx);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j)
      if (y[j] > y[i]) z += std::exp(term(i, j) - mx);
  LossStats st;
  st.loss = mx + std::log(z);
  double mean_sim = 0.0;
  for (double s : sim) mean_sim += s;
  st.pos_score = mean_sim / static_cast<double>(B);
  if (!out.any()) return st;

  std::vector<double> ds(static_cast<size_t>(B), 0.0);  // d loss / d sim_i
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j)
      if (y[j] > y[i]) {
        const double w = std::exp(term(i, j) - st.loss) * scale;
        ds[static_cast<size_t>(i)] += w;
        ds[static_cast<size_t>(j)] -= w;
      }
  std::vector<double> du(static_cast<size_t>(B * H)), dv(static_cast<size_t>(B * H));
  for (int64_t i = 0; i < B; ++i) {
    const double* ui = u.data() + i * H;
    const double* vi = v.data() + i * H;
    double* dui = du.data() + i * H;
    double* dvi = dv.data() + i * H;
    double g = ds[static_cast<size_t>(i)];
    if (angle) {
      const double r = raw[static_cast<size_t>(i)];
      g *= r > 0 ? 1.0 : r < 0 ? -1.0 : 0.0;
    }
    for (int64_t j = 0; j < H; ++j) {
      dui[j] = g * vi[j];
      dvi[j] = g * ui[j];
      if (angle) {  // sin = sum_{j<h} u[h+j] v[j] - u[j] v[h+j]
        dui[j] += g * (j < h ? -at(vi, h + j) : vi[j - h]);
        dvi[j] += g * (j < h ? at(ui, h + j) : -ui[j - h]);
      }
    }
  }
  if (out.dq) normalize_rows_backward(out.dq, H, du.data(), u.data(), nu.data(), B, H, 1.0, false);
  if (out.dp) normalize_rows_backward(out.dp, H, dv.data(), v.data(), nv.data(), B, H, 1.0, false);
  if (out.dn) std::fill(out.dn, out.dn + B * in.K * H, 0.0);
  return st;
}

}  // namespace sbert::objectives
