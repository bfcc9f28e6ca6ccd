#include "train/objective.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/check.h"
#include "train/objectives/objectives.h"
#include "train/objectives/rows.h"

namespace sbert {

const char* objective_name(const ObjectiveConfig& cfg) {
  switch (cfg.kind) {
    case ObjectiveKind::Contrastive:
      return cfg.contrastive.mode == LossMode::SharedNegatives ? "mnrl" : "nemo";
    case ObjectiveKind::CoSENT:
      return "cosent";
    case ObjectiveKind::AnglE:
      return "angle";
    case ObjectiveKind::GIST:
      return "gist";
    case ObjectiveKind::MarginMSE:
      return "marginmse";
  }
  return "?";
}

void validate(const ObjectiveConfig& cfg, int64_t embedding_dim) {
  auto positive = [](double v) { return std::isfinite(v) && v > 0.0; };
  switch (cfg.kind) {
    case ObjectiveKind::Contrastive:
      validate(cfg.contrastive);
      break;
    case ObjectiveKind::CoSENT:
      SBERT_CHECK(positive(cfg.cosent_scale), "[loss] model.cosent_scale must be positive, got ",
                  cfg.cosent_scale);
      break;
    case ObjectiveKind::AnglE:
      SBERT_CHECK(positive(cfg.angle_scale), "[loss] model.angle_scale must be positive, got ",
                  cfg.angle_scale);
      break;
    case ObjectiveKind::GIST:
      SBERT_CHECK(positive(cfg.gist_temperature),
                  "[loss] model.gist_temperature must be positive, got ", cfg.gist_temperature);
      SBERT_CHECK(std::isfinite(cfg.gist_margin), "[loss] model.gist_margin must be finite, got ",
                  cfg.gist_margin);
      break;
    case ObjectiveKind::MarginMSE:
      break;
  }
  if (!cfg.matryoshka()) return;
  const auto& d = cfg.matryoshka_dims;
  for (int64_t v : d) {
    SBERT_CHECK(v > 0, "[loss] model.matryoshka_dims must all be positive, got ", v);
    SBERT_CHECK(embedding_dim <= 0 || v <= embedding_dim, "[loss] model.matryoshka_dims: ", v,
                " exceeds the model's embedding dimension ", embedding_dim);
  }
  SBERT_CHECK(cfg.matryoshka_weights.empty() || cfg.matryoshka_weights.size() == d.size(),
              "[loss] model.matryoshka_weights has ", cfg.matryoshka_weights.size(),
              " values but model.matryoshka_dims has ", d.size());
  for (double w : cfg.matryoshka_weights)
    SBERT_CHECK(std::isfinite(w), "[loss] model.matryoshka_weights must be finite, got ", w);
  SBERT_CHECK(cfg.matryoshka_active.empty() || cfg.matryoshka_active.size() == d.size(),
              "[loss] matryoshka_active has ", cfg.matryoshka_active.size(), " entries for ",
              d.size(), " dims");
}

namespace {

void check_inputs(const ObjectiveConfig& cfg, const void* q, const void* p, const void* n,
                  const void* gq, const void* gp, const void* gn, const double* scores,
                  const double* margins, int64_t B, int64_t K, int64_t H, int64_t GH) {
  validate(cfg, H);
  const char* name = objective_name(cfg);
  SBERT_CHECK(B > 0 && K >= 0 && H > 0, "[loss] ", name, ": bad sizes B=", B, " K=", K, " H=", H);
  SBERT_CHECK(B * (3 + K) < INT_MAX && H < INT_MAX, "[loss] ", name,
              ": sizes too large for BLAS: B=", B, " K=", K, " H=", H);
  SBERT_CHECK(q && p, "[loss] ", name, ": queries and positives must not be null");
  SBERT_CHECK(K == 0 || n, "[loss] ", name, ": hard negatives are null but K is ", K);
  SBERT_CHECK(!cfg.needs_scores() || scores, "[loss] ", name, " needs a score per pair");
  SBERT_CHECK(!cfg.needs_margins() || K == 0 || margins, "[loss] ", name,
              " needs a teacher margin per negative");
  SBERT_CHECK(!cfg.needs_margins() || K > 0, "[loss] ", name, " needs hard negatives (K is 0)");
  SBERT_CHECK(!cfg.needs_guide() || (gq && gp && (K == 0 || gn) && GH > 0), "[loss] ", name,
              " needs the guide model's embeddings");
}

LossStats base_loss(const ObjectiveConfig& cfg, const LossInputs<double>& in,
                    const LossGrads<double>& out) {
  switch (cfg.kind) {
    case ObjectiveKind::Contrastive:
      return contrastive_loss(cfg.contrastive, out.dq, out.dp, out.dn, in.q, in.p, in.n,
                              in.neg_mask, in.B, in.K, in.H);
    case ObjectiveKind::CoSENT:
      return objectives::cosent(cfg, false, in, out);
    case ObjectiveKind::AnglE:
      return objectives::cosent(cfg, true, in, out);
    case ObjectiveKind::GIST:
      return objectives::gist(cfg, in, out);
    case ObjectiveKind::MarginMSE:
      return objectives::margin_mse(in, out);
  }
  return {};
}

// MatryoshkaLoss: sum over the (active) dims d, largest first, of weight_d * base loss on
// shrink(x, d) = normalize(x[:, :d]) of every embedding; the guide's embeddings are not
// truncated (ST decorates the trained model's forward only). Statistics other than the loss
// are the largest active dim's.
LossStats matryoshka_loss(const ObjectiveConfig& cfg, const LossInputs<double>& in,
                          const LossGrads<double>& out) {
  const int64_t B = in.B, NK = in.B * in.K, H = in.H;
  std::vector<size_t> order(cfg.matryoshka_dims.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return cfg.matryoshka_dims[a] > cfg.matryoshka_dims[b];
  });
  if (out.dq) std::fill(out.dq, out.dq + B * H, 0.0);
  if (out.dp) std::fill(out.dp, out.dp + B * H, 0.0);
  if (out.dn) std::fill(out.dn, out.dn + NK * H, 0.0);
  std::vector<double> uq, up, un, nq, np, nn, dq, dp, dn;
  LossStats total;
  bool first = true;
  for (size_t idx : order) {
    if (!cfg.matryoshka_active.empty() && !cfg.matryoshka_active[idx]) continue;
    const int64_t d = cfg.matryoshka_dims[idx];
    const double w = cfg.matryoshka_weights.empty() ? 1.0 : cfg.matryoshka_weights[idx];
    objectives::normalize_rows(uq, nq, in.q, B, d, H);
    objectives::normalize_rows(up, np, in.p, B, d, H);
    objectives::normalize_rows(un, nn, in.n ? in.n : in.q, in.n ? NK : 0, d, H);
    LossInputs<double> t = in;
    t.q = uq.data();
    t.p = up.data();
    t.n = in.n ? un.data() : nullptr;
    t.H = d;
    LossGrads<double> g;
    if (out.any()) {
      dq.assign(static_cast<size_t>(B * d), 0.0);
      dp.assign(static_cast<size_t>(B * d), 0.0);
      dn.assign(static_cast<size_t>(NK * d), 0.0);
      g = {dq.data(), dp.data(), in.n ? dn.data() : nullptr};
    }
    const LossStats s = base_loss(cfg, t, g);
    if (first) total = s;
    total.loss = (first ? 0.0 : total.loss) + w * s.loss;
    first = false;
    if (!out.any()) continue;
    if (out.dq)
      objectives::normalize_rows_backward(out.dq, H, dq.data(), uq.data(), nq.data(), B, d, w,
                                          true);
    if (out.dp)
      objectives::normalize_rows_backward(out.dp, H, dp.data(), up.data(), np.data(), B, d, w,
                                          true);
    if (out.dn && in.n) {
      objectives::normalize_rows_backward(out.dn, H, dn.data(), un.data(), nn.data(), NK, d, w,
                                          true);
    }
  }
  if (out.dn && in.neg_mask) {  // masked slots: no gradient at all
    for (int64_t s = 0; s < NK; ++s)
      if (!in.neg_mask[s]) std::fill(out.dn + s * H, out.dn + (s + 1) * H, 0.0);
  }
  return total;
}

}  // namespace

LossStats objective_loss(const ObjectiveConfig& cfg, const LossInputs<double>& in,
                         const LossGrads<double>& out) {
  check_inputs(cfg, in.q, in.p, in.n, in.gq, in.gp, in.gn, in.scores, in.margins, in.B, in.K, in.H,
               in.GH);
  return cfg.matryoshka() ? matryoshka_loss(cfg, in, out) : base_loss(cfg, in, out);
}

LossStats objective_loss(const Context& ctx, const ObjectiveConfig& cfg,
                         const LossInputs<float>& in, const LossGrads<float>& out) {
  if (cfg.unit_inputs()) {  // the contrastive loss as it always was (bit-identical), any device
    return contrastive_loss(ctx, cfg.contrastive, out.dq, out.dp, out.dn, in.q, in.p, in.n,
                            in.neg_mask, in.B, in.K, in.H);
  }
  SBERT_CHECK(ctx.device == Device::CPU, "[loss] ", objective_name(cfg),
              " has no CUDA implementation yet (train on the CPU: trainer.accelerator=cpu)");
  check_inputs(cfg, in.q, in.p, in.n, in.gq, in.gp, in.gn, in.scores, in.margins, in.B, in.K, in.H,
               in.GH);
  const int64_t B = in.B, NK = in.B * in.K, H = in.H, GH = in.GH;
  auto widen = [](const float* x, int64_t count) {
    return x ? std::vector<double>(x, x + count) : std::vector<double>();
  };
  std::vector<double> q = widen(in.q, B * H), p = widen(in.p, B * H), n = widen(in.n, NK * H);
  std::vector<double> gq = widen(in.gq, B * GH), gp = widen(in.gp, B * GH),
                      gn = widen(in.gn, NK * GH);
  // Masked slots may hold anything (GradCache does not encode them): read them as zeros.
  for (int64_t s = 0; s < NK && in.neg_mask; ++s) {
    if (in.neg_mask[s]) continue;
    if (!n.empty()) std::fill(n.begin() + s * H, n.begin() + (s + 1) * H, 0.0);
    if (!gn.empty()) std::fill(gn.begin() + s * GH, gn.begin() + (s + 1) * GH, 0.0);
  }
  auto ptr = [](std::vector<double>& v) { return v.empty() ? nullptr : v.data(); };
  LossInputs<double> d{ptr(q),    ptr(p),     ptr(n),  in.neg_mask, B,       in.K, H,
                       in.scores, in.margins, ptr(gq), ptr(gp),     ptr(gn), GH};
  std::vector<double> dq(out.dq ? B * H : 0), dp(out.dp ? B * H : 0), dn(out.dn ? NK * H : 0);
  const LossStats st = objective_loss(cfg, d, {ptr(dq), ptr(dp), ptr(dn)});
  auto narrow = [](float* dst, const std::vector<double>& src) {
    if (dst)
      std::transform(src.begin(), src.end(), dst, [](double x) { return static_cast<float>(x); });
  };
  narrow(out.dq, dq);
  narrow(out.dp, dp);
  narrow(out.dn, dn);
  return st;
}

}  // namespace sbert
