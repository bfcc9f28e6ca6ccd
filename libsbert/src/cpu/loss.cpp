// Fused contrastive loss (forward + backward) on the CPU, computed in double.
//
// Row i of the logit matrix has M columns: the B positives, then either query i's own K hard
// negatives (ExclusiveHardNegatives, M = B + K) or every hard negative of the batch
// (SharedNegatives, M = B + B*K). Queries are processed in blocks of R rows so the score block
// (R, M) stays small; within a block:
//   S = Q_blk . [P | N]^T              dot products (dgemm; own negatives by a loop)
//   per row: logits l = scale * clamp(S) (clamp only in the exclusive mode), masked columns
//            dropped, lse by max-shifted log-sum-exp,
//            loss_i = lse - (1 - eps) l_i - eps / C_i * sum_valid l_c         (C_i valid columns)
//            G_ij   = (softmax_ij - y_ij) / B * scale * [-1 <= S_ij <= 1]   written over S
//            with y_ij = (1 - eps) [j == i] + eps / C_i, and G = 0 on masked columns
//   dQ_blk = G . [P | N],  dP += G_P^T . Q_blk,  dN += G_N^T . Q_blk  (exclusive: per row)
// The clamp's gradient mask is inclusive at the bounds, as torch.clamp's backward.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/train_kernels.h"

namespace sbert::cpu {

namespace {

// Score-block budget in doubles (32 MB) when cfg.block_rows is 0.
constexpr int64_t kScoreBlockDoubles = int64_t{1} << 22;

// C (m, n) = alpha * op(A) . op(B) + beta * C, row-major.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
          const double* Bm, int64_t ldb, double beta, double* C, int64_t ldc) {
  cpu::gemm(ta, tb, m, n, k, 1.0, A, lda, Bm, ldb, beta, C, ldc);
}

struct RowStats {
  double loss = 0.0, pos = 0.0, inbatch = 0.0, hard = 0.0;
  int64_t hard_count = 0;
  bool correct = false;
};

// q (B, H), p (B, H), n (B*K, H) in double; rows of n whose mask is 0 must be finite (the
// entry points below zero them). dq, dp, dn may be null.
LossStats loss_impl(double* dq, double* dp, double* dn, const double* q, const double* p,
                    const double* n, const uint8_t* mask, int64_t B, int64_t K, int64_t H,
                    const LossConfig& cfg) {
  const bool exclusive = cfg.mode == LossMode::ExclusiveHardNegatives;
  const bool clamp = cfg.clamps();
  const double scale = cfg.logit_scale();
  const double eps = cfg.label_smoothing;
  const int64_t NK = B * K;
  const int64_t M = exclusive ? B + K : B + NK;
  const bool want_grad = dq || dp || dn;
  const double invB = 1.0 / static_cast<double>(B);

  int64_t R = cfg.block_rows > 0 ? cfg.block_rows : kScoreBlockDoubles / std::max<int64_t>(M, 1);
  R = std::clamp<int64_t>(R, 1, B);
  std::vector<double> S(static_cast<size_t>(R * M));
  std::vector<RowStats> rows(static_cast<size_t>(B));

  auto valid = [&](int64_t slot) { return mask == nullptr || mask[slot] != 0; };

  for (int64_t r0 = 0; r0 < B; r0 += R) {
    const int64_t nr = std::min(R, B - r0);
    const double* qb = q + r0 * H;
    // ---- scores
    gemm(false, true, nr, B, H, qb, H, p, H, 0.0, S.data(), M);
    if (NK > 0) {
      if (exclusive) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t i = r0 + r;
          const double* qi = q + i * H;
          for (int64_t k = 0; k < K; ++k) {
            const double* nk = n + (i * K + k) * H;
            double s = 0.0;
            for (int64_t h = 0; h < H; ++h) s += qi[h] * nk[h];
            S[static_cast<size_t>(r * M + B + k)] = s;
          }
        }
      } else {
        gemm(false, true, nr, NK, H, qb, H, n, H, 0.0, S.data() + B, M);
      }
    }

    // ---- softmax, loss, statistics and dlogits, row by row
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t i = r0 + r;
      double* s = S.data() + r * M;
      // Column j of this row is valid, and the slot of N it reads.
      auto slot_of = [&](int64_t j) { return exclusive ? i * K + (j - B) : j - B; };
      auto col_valid = [&](int64_t j) { return j < B || valid(slot_of(j)); };
      auto logit = [&](int64_t j) {
        const double x = clamp ? std::clamp(s[j], -1.0, 1.0) : s[j];
        return scale * x;
      };

      RowStats st;
      st.pos = s[i];
      for (int64_t j = 0; j < B; ++j) {
        if (j != i) st.inbatch += s[j];
      }
      // Own hard negatives: columns B..B+K (exclusive) or B+i*K.. (shared).
      const int64_t own0 = exclusive ? B : B + i * K;
      for (int64_t k = 0; k < K; ++k) {
        if (valid(i * K + k)) {
          st.hard += s[own0 + k];
          ++st.hard_count;
        }
      }

      double mx = -std::numeric_limits<double>::infinity();
      int64_t arg = -1;
      int64_t C = 0;
      double lsum = 0.0;
      for (int64_t j = 0; j < M; ++j) {
        if (!col_valid(j)) continue;
        const double l = logit(j);
        ++C;
        lsum += l;
        if (l > mx || arg < 0) {
          mx = l;
          arg = j;
        }
      }
      double se = 0.0;
      for (int64_t j = 0; j < M; ++j) {
        if (col_valid(j)) se += std::exp(logit(j) - mx);
      }
      const double lse = mx + std::log(se);
      const double li = logit(i);
      const double smooth = eps / static_cast<double>(C);
      st.loss = lse - (1.0 - eps) * li - smooth * lsum;
      st.correct = arg == i;
      rows[static_cast<size_t>(i)] = st;

      if (want_grad) {
        for (int64_t j = 0; j < M; ++j) {
          if (!col_valid(j)) {
            s[j] = 0.0;
            continue;
          }
          const double x = s[j];
          const double y = smooth + (j == i ? 1.0 - eps : 0.0);
          const double g = (std::exp(logit(j) - lse) - y) * invB * scale;
          s[j] = (clamp && (x < -1.0 || x > 1.0)) ? 0.0 : g;
        }
      }
    }
    if (!want_grad) continue;

    // ---- gradients
    const double* G = S.data();
    const double beta = r0 == 0 ? 0.0 : 1.0;  // dp, dn (shared) accumulate over blocks
    if (dq) gemm(false, false, nr, H, B, G, M, p, H, 0.0, dq + r0 * H, H);
    if (dp) gemm(true, false, B, H, nr, G, M, qb, H, beta, dp, H);
    if (NK > 0 && exclusive) {
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t i = r0 + r;
        const double* qi = q + i * H;
        for (int64_t k = 0; k < K; ++k) {
          const double g = G[r * M + B + k];
          const double* nk = n + (i * K + k) * H;
          if (dq) {
            double* dqi = dq + i * H;
            for (int64_t h = 0; h < H; ++h) dqi[h] += g * nk[h];
          }
          if (dn) {
            double* dnk = dn + (i * K + k) * H;
            for (int64_t h = 0; h < H; ++h) dnk[h] = g * qi[h];
          }
        }
      }
    } else if (NK > 0) {
      if (dq) gemm(false, false, nr, H, NK, G + B, M, n, H, 1.0, dq + r0 * H, H);
      if (dn) gemm(true, false, NK, H, nr, G + B, M, qb, H, beta, dn, H);
    }
  }

  // ---- reduce the per-row results in order (deterministic)
  LossStats out;
  double loss = 0.0, pos = 0.0, inb = 0.0, hard = 0.0;
  int64_t correct = 0, hard_count = 0;
  for (const RowStats& st : rows) {
    loss += st.loss;
    pos += st.pos;
    inb += st.inbatch;
    hard += st.hard;
    hard_count += st.hard_count;
    correct += st.correct ? 1 : 0;
  }
  out.loss = loss * invB;
  out.accuracy = static_cast<double>(correct) * invB;
  out.pos_score = pos * invB;
  out.inbatch_neg_score = B > 1 ? inb / static_cast<double>(B * (B - 1)) : 0.0;
  out.hard_neg_score = hard_count > 0 ? hard / static_cast<double>(hard_count) : 0.0;
  out.hard_negatives = hard_count;
  return out;
}

template <class Src>
std::vector<double> to_double(const Src* x, int64_t count) {
  std::vector<double> out(static_cast<size_t>(count));
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < count; ++e) out[static_cast<size_t>(e)] = static_cast<double>(x[e]);
  return out;
}

// Hard negatives as double, masked rows zeroed so that no value they hold (NaN included)
// reaches a GEMM.
template <class Src>
std::vector<double> negatives_to_double(const Src* n, const uint8_t* mask, int64_t NK, int64_t H) {
  std::vector<double> out(static_cast<size_t>(NK * H));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < NK; ++r) {
    const bool keep = mask == nullptr || mask[r] != 0;
    for (int64_t h = 0; h < H; ++h) {
      out[static_cast<size_t>(r * H + h)] = keep ? static_cast<double>(n[r * H + h]) : 0.0;
    }
  }
  return out;
}

void to_float(float* dst, const std::vector<double>& src) {
  const int64_t count = static_cast<int64_t>(src.size());
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < count; ++e) dst[e] = static_cast<float>(src[static_cast<size_t>(e)]);
}

bool any_masked(const uint8_t* mask, int64_t NK) {
  if (!mask) return false;
  for (int64_t r = 0; r < NK; ++r) {
    if (mask[r] == 0) return true;
  }
  return false;
}

}  // namespace

LossStats contrastive_loss(float* dq, float* dp, float* dn, const float* q, const float* p,
                           const float* n, const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H,
                           const LossConfig& cfg) {
  const int64_t NK = B * K;
  const std::vector<double> qd = to_double(q, B * H);
  const std::vector<double> pd = to_double(p, B * H);
  const std::vector<double> nd =
      NK > 0 ? negatives_to_double(n, neg_mask, NK, H) : std::vector<double>();
  std::vector<double> dqd(dq ? static_cast<size_t>(B * H) : 0);
  std::vector<double> dpd(dp ? static_cast<size_t>(B * H) : 0);
  std::vector<double> dnd(dn && NK > 0 ? static_cast<size_t>(NK * H) : 0);
  const LossStats st = loss_impl(dq ? dqd.data() : nullptr, dp ? dpd.data() : nullptr,
                                 dn && NK > 0 ? dnd.data() : nullptr, qd.data(), pd.data(),
                                 nd.data(), neg_mask, B, K, H, cfg);
  if (dq) to_float(dq, dqd);
  if (dp) to_float(dp, dpd);
  if (dn && NK > 0) to_float(dn, dnd);
  return st;
}

LossStats contrastive_loss(double* dq, double* dp, double* dn, const double* q, const double* p,
                           const double* n, const uint8_t* neg_mask, int64_t B, int64_t K,
                           int64_t H, const LossConfig& cfg) {
  const int64_t NK = B * K;
  std::vector<double> nd;
  if (NK > 0 && any_masked(neg_mask, NK)) {
    nd = negatives_to_double(n, neg_mask, NK, H);
    n = nd.data();
  }
  return loss_impl(dq, dp, NK > 0 ? dn : nullptr, q, p, n, neg_mask, B, K, H, cfg);
}

}  // namespace sbert::cpu
