// The fused contrastive loss on the device, the twin of cpu/loss.cpp: the same formulas
// (train/loss.h, docs/training.md), computed in double from the float inputs, outputs rounded.
//
// Queries are processed in row blocks of R rows so the score block (R, M) in double stays
// within kScoreBlockDoubles (cfg.block_rows, when set, as on the CPU: tests cover the blocking
// with it; it changes only memory use and summation order); per block:
//   S = Q_blk . [P | N]^T        tiled GEMM in double (own negatives: one warp per pair)
//   one block per query row: logits, masked columns dropped, first-max argmax, log-sum-exp,
//        the row's loss and statistics, and G (the dlogits) written over S
//   dQ_blk = G . [P | N]      dP += G_P^T . Q_blk      dN += G_N^T . Q_blk (exclusive: per row)
// into double accumulators, rounded to float at the end. The per-row statistics are added in
// row order by one thread (the CPU's order) and only that sum comes back to the host: one small
// copy, the call's only synchronization. Masked negative rows are never read (GradCache does
// not encode them: they hold whatever the device memory held).
//
// Determinism: every sum runs in a fixed order (tiles in order, fixed-shape trees), no atomics.
// The summation orders differ from OpenBLAS's, so the results equal the CPU's to ~1e-15
// relative, not bitwise. Scratch: the Runtime's scratch block holds S, the accumulators
// ((2B + B*K) H doubles when gradients are wanted) and the row statistics.
#include <algorithm>
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/train_kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kTile = 16;      // tiled GEMM: a (kTile, kTile) block of outputs per thread block
constexpr int kThreads = 256;  // the row kernel and the element-wise kernels
constexpr int kPairWarps = 8;  // own-negative scores: warps per block, one (row, slot) each
// Score-block budget in doubles (256 MB); a larger batch takes several row blocks.
constexpr int64_t kScoreBlockDoubles = int64_t{1} << 25;
constexpr unsigned kMaxGridY = 65535;

// What every kernel knows of the problem (train/loss.h's shapes), passed by value.
struct Problem {
  const float* q;        // (B, H)
  const float* p;        // (B, H)
  const float* n;        // (B*K, H), rows of masked slots never read
  const uint8_t* mask;   // (B*K) or null
  int64_t B, K, H, NK, M;  // M: columns of a score row
  bool exclusive, clamp;
  double scale, eps, invB;

  __device__ bool valid(int64_t slot) const { return mask == nullptr || mask[slot] != 0; }
};

// One query row's results; `correct` is 0 or 1. The sums of every row have the same layout.
struct RowStats {
  double loss, pos, inbatch, hard;
  int64_t hard_count, correct;
};

// ---- tiled GEMM in double ---------------------------------------------------------------------
// C (m, n) = sum_t A(i, t) B(t, j), C handed to op.store(i, j, value). One output per thread of
// a (kTile, kTile) block; t runs through shared tiles in order, so the sum is deterministic.
// Op::kTransA: A(i, t) is contiguous along i (loaded transposed for coalescing); kTransB: B(t, j)
// contiguous along t. Elements outside (m, k) or (k, n) are never asked for.
template <class Op>
__global__ void __launch_bounds__(kTile* kTile)
    tiled_gemm_kernel(Op op, int64_t m, int64_t n, int64_t k) {
  SIMT_SHARED(as, double[kTile][kTile + 1]);  // as[row][t]
  SIMT_SHARED(bs, double[kTile][kTile + 1]);  // bs[t][column]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * kTile;
  double acc = 0.0;
  for (int64_t t0 = 0; t0 < k; t0 += kTile) {
    if (Op::kTransA) {
      const int64_t i = i0 + tx, t = t0 + ty;
      as[tx][ty] = i < m && t < k ? op.a(i, t) : 0.0;
    } else {
      const int64_t i = i0 + ty, t = t0 + tx;
      as[ty][tx] = i < m && t < k ? op.a(i, t) : 0.0;
    }
    if (Op::kTransB) {
      const int64_t t = t0 + tx, j = j0 + ty;
      bs[tx][ty] = t < k && j < n ? op.b(t, j) : 0.0;
    } else {
      const int64_t t = t0 + ty, j = j0 + tx;
      bs[ty][tx] = t < k && j < n ? op.b(t, j) : 0.0;
    }
    __syncthreads();
    for (int u = 0; u < kTile; ++u) acc += as[ty][u] * bs[u][tx];
    __syncthreads();
  }
  const int64_t i = i0 + ty, j = j0 + tx;
  if (i < m && j < n) op.store(i, j, acc);
}

template <class Op>
void launch_gemm(const Op& op, int64_t m, int64_t n, int64_t k, cudaStream_t stream) {
  const char* op_name = "loss";
  const unsigned gy = grid_for(n, kTile, op_name);
  SBERT_CHECK(gy <= kMaxGridY, "[loss] ", n, " columns exceed the GEMM kernel's grid");
  simt::launch<tiled_gemm_kernel<Op>>(
      {dim3(grid_for(m, kTile, op_name), gy), dim3(kTile, kTile), 0, stream}, op, m, n, k);
  SBERT_LAUNCH_CHECK(op_name);
}

// S[i, j] = Q_{r0+i} . P_j                                         (nr, B), k = H
struct ScoresP {
  static constexpr bool kTransA = false, kTransB = true;
  Problem pb;
  double* S;
  int64_t r0;
  __device__ double a(int64_t i, int64_t t) const { return pb.q[(r0 + i) * pb.H + t]; }
  __device__ double b(int64_t t, int64_t j) const { return pb.p[j * pb.H + t]; }
  __device__ void store(int64_t i, int64_t j, double v) const { S[i * pb.M + j] = v; }
};

// Shared negatives: S[i, B + s] = Q_{r0+i} . N_s, 0 for a masked slot   (nr, B*K), k = H
struct ScoresN {
  static constexpr bool kTransA = false, kTransB = true;
  Problem pb;
  double* S;
  int64_t r0;
  __device__ double a(int64_t i, int64_t t) const { return pb.q[(r0 + i) * pb.H + t]; }
  __device__ double b(int64_t t, int64_t s) const {
    return pb.valid(s) ? static_cast<double>(pb.n[s * pb.H + t]) : 0.0;
  }
  __device__ void store(int64_t i, int64_t s, double v) const { S[i * pb.M + pb.B + s] = v; }
};

// dQ_{r0+i} = sum_t G[i, t] X_t over X = [P | N] (shared) or P (exclusive, whose own negatives
// are added after, per row, in slot order as the CPU does).              (nr, H), k = B (+ B*K)
struct GradQ {
  static constexpr bool kTransA = false, kTransB = false;
  Problem pb;
  const double* G;
  double* dq;  // (B, H)
  int64_t r0;
  __device__ double a(int64_t i, int64_t t) const { return G[i * pb.M + t]; }
  __device__ double b(int64_t t, int64_t h) const {
    if (t < pb.B) return pb.p[t * pb.H + h];
    const int64_t s = t - pb.B;
    return pb.valid(s) ? static_cast<double>(pb.n[s * pb.H + h]) : 0.0;
  }
  __device__ void store(int64_t i, int64_t h, double v) const {
    const int64_t row = r0 + i;
    if (pb.exclusive) {
      for (int64_t k = 0; k < pb.K; ++k) {
        const int64_t s = row * pb.K + k;
        if (pb.valid(s)) v += G[i * pb.M + pb.B + k] * static_cast<double>(pb.n[s * pb.H + h]);
      }
    }
    dq[row * pb.H + h] = v;
  }
};

// dX_j (+)= sum_i G[i, col0 + j] Q_{r0+i}: dP (col0 0, B rows) or shared dN (col0 B, B*K rows);
// the first row block writes, the next ones add.                          (rows, H), k = nr
struct GradPN {
  static constexpr bool kTransA = true, kTransB = false;
  Problem pb;
  const double* G;
  double* dx;
  int64_t r0, col0;
  bool first;
  __device__ double a(int64_t j, int64_t i) const { return G[i * pb.M + col0 + j]; }
  __device__ double b(int64_t i, int64_t h) const { return pb.q[(r0 + i) * pb.H + h]; }
  __device__ void store(int64_t j, int64_t h, double v) const {
    double* d = dx + j * pb.H + h;
    *d = first ? v : *d + v;
  }
};

// Exclusive mode: S[r, B + k] = Q_i . N_{i*K+k}, 0 for a masked slot; one warp per (r, k).
__global__ void __launch_bounds__(kWarp* kPairWarps)
    own_scores_kernel(double* S, Problem pb, int64_t r0, int64_t nr) {
  const int64_t pair = static_cast<int64_t>(blockIdx.x) * kPairWarps + threadIdx.y;
  if (pair >= nr * pb.K) return;
  const int64_t r = pair / pb.K, k = pair % pb.K, i = r0 + r, s = i * pb.K + k;
  double acc = 0.0;
  if (pb.valid(s)) {
    const float* qi = pb.q + i * pb.H;
    const float* ns = pb.n + s * pb.H;
    for (int64_t h = threadIdx.x; h < pb.H; h += kWarp) {
      acc += static_cast<double>(qi[h]) * static_cast<double>(ns[h]);
    }
    acc = warp_sum(acc);
  }
  if (threadIdx.x == 0) S[r * pb.M + pb.B + k] = acc;
}

// Exclusive mode: dN_{i*K+k} = G[r, B + k] Q_i (0 for a masked slot: its G is 0).
__global__ void own_grad_kernel(double* dn, const double* G, Problem pb, int64_t r0, int64_t nr) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e >= nr * pb.K * pb.H) return;
  const int64_t h = e % pb.H, rk = e / pb.H, r = rk / pb.K, k = rk % pb.K, i = r0 + r;
  dn[(i * pb.K + k) * pb.H + h] = G[r * pb.M + pb.B + k] * static_cast<double>(pb.q[i * pb.H + h]);
}

// ---- one block per query row -------------------------------------------------------------------
// Sum over the block in a fixed tree; every thread gets the result.
__device__ double block_sum(double v, double* red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (unsigned w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  const double out = red[0];
  __syncthreads();
  return out;
}

// The largest value and the FIRST column holding it (arg -1: no valid column), as the CPU's
// scan `l > mx || arg < 0`.
__device__ void block_argmax(double& mx, int64_t& arg, double* red, int64_t* redi) {
  red[threadIdx.x] = mx;
  redi[threadIdx.x] = arg;
  __syncthreads();
  for (unsigned w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) {
      const double v = red[threadIdx.x + w];
      const int64_t a = redi[threadIdx.x + w];
      const int64_t own = redi[threadIdx.x];
      if (a >= 0 && (own < 0 || v > red[threadIdx.x] || (v == red[threadIdx.x] && a < own))) {
        red[threadIdx.x] = v;
        redi[threadIdx.x] = a;
      }
    }
    __syncthreads();
  }
  mx = red[0];
  arg = redi[0];
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads)
    row_kernel(double* S, RowStats* rows, Problem pb, int64_t r0, bool want_grad) {
  SIMT_SHARED(red, double[kThreads]);
  SIMT_SHARED(redi, int64_t[kThreads]);
  const int64_t r = blockIdx.x, i = r0 + r;
  double* s = S + r * pb.M;
  const int tid = threadIdx.x;
  auto col_valid = [&](int64_t j) {
    return j < pb.B || pb.valid(pb.exclusive ? i * pb.K + (j - pb.B) : j - pb.B);
  };
  auto logit = [&](double x) { return pb.scale * (pb.clamp ? fmin(fmax(x, -1.0), 1.0) : x); };

  const double si = s[i];  // every thread reads it before anyone overwrites the row
  double inbatch = 0.0, hard = 0.0, hard_count = 0.0, count = 0.0, lsum = 0.0;
  for (int64_t j = tid; j < pb.B; j += kThreads) {
    if (j != i) inbatch += s[j];
  }
  const int64_t own0 = pb.exclusive ? pb.B : pb.B + i * pb.K;
  for (int64_t k = tid; k < pb.K; k += kThreads) {
    if (pb.valid(i * pb.K + k)) {
      hard += s[own0 + k];
      hard_count += 1.0;
    }
  }
  double mx = -INFINITY;
  int64_t arg = -1;
  for (int64_t j = tid; j < pb.M; j += kThreads) {
    if (!col_valid(j)) continue;
    const double l = logit(s[j]);
    count += 1.0;
    lsum += l;
    if (l > mx || arg < 0) {
      mx = l;
      arg = j;
    }
  }
  inbatch = block_sum(inbatch, red);
  hard = block_sum(hard, red);
  hard_count = block_sum(hard_count, red);
  count = block_sum(count, red);
  lsum = block_sum(lsum, red);
  block_argmax(mx, arg, red, redi);
  double se = 0.0;
  for (int64_t j = tid; j < pb.M; j += kThreads) {
    if (col_valid(j)) se += exp(logit(s[j]) - mx);
  }
  se = block_sum(se, red);
  const double lse = mx + log(se);
  const double smooth = pb.eps / count;
  if (tid == 0) {
    rows[i] = {lse - (1.0 - pb.eps) * logit(si) - smooth * lsum, si, inbatch, hard,
               static_cast<int64_t>(hard_count), arg == i ? 1 : 0};
  }
  if (!want_grad) return;
  // G over S: each thread rewrites only the columns it alone read since the last barrier.
  for (int64_t j = tid; j < pb.M; j += kThreads) {
    if (!col_valid(j)) {
      s[j] = 0.0;
      continue;
    }
    const double x = s[j];
    const double y = smooth + (j == i ? 1.0 - pb.eps : 0.0);
    const double g = (exp(logit(x) - lse) - y) * pb.invB * pb.scale;
    s[j] = (pb.clamp && (x < -1.0 || x > 1.0)) ? 0.0 : g;
  }
}

// The row statistics added in row order (the CPU's order), by one thread.
__global__ void sum_rows_kernel(RowStats* out, const RowStats* rows, int64_t B) {
  RowStats t{0.0, 0.0, 0.0, 0.0, 0, 0};
  for (int64_t i = 0; i < B; ++i) {
    t.loss += rows[i].loss;
    t.pos += rows[i].pos;
    t.inbatch += rows[i].inbatch;
    t.hard += rows[i].hard;
    t.hard_count += rows[i].hard_count;
    t.correct += rows[i].correct;
  }
  *out = t;
}

__global__ void round_kernel(float* out, const double* in, int64_t n) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e < n) out[e] = static_cast<float>(in[e]);
}

void round_to(float* out, const double* in, int64_t n, cudaStream_t stream) {
  if (!out || n == 0) return;
  simt::launch<round_kernel>({grid_for(n, kThreads, "loss"), kThreads, 0, stream}, out, in, n);
  SBERT_LAUNCH_CHECK("loss");
}

// The scratch block's layout: S (R, M), the accumulators dq (B, H), dp (B, H), dn (B*K, H) when
// gradients are wanted, the row statistics (B) and their sum.
struct Scratch {
  int64_t M, R, acc;
  size_t bytes;
};
Scratch scratch_layout(const LossConfig& cfg, int64_t B, int64_t K, int64_t H, bool grads) {
  const int64_t NK = B * K;
  const int64_t M = cfg.mode == LossMode::ExclusiveHardNegatives ? B + K : B + NK;
  const int64_t R =
      std::clamp<int64_t>(cfg.block_rows > 0 ? cfg.block_rows : kScoreBlockDoubles / M, 1, B);
  const int64_t acc = grads ? (2 * B + NK) * H : 0;
  return {M, R, acc,
          static_cast<size_t>(R * M + acc) * sizeof(double) +
              static_cast<size_t>(B + 1) * sizeof(RowStats)};
}

}  // namespace

size_t contrastive_loss_scratch_bytes(const LossConfig& cfg, int64_t B, int64_t K, int64_t H,
                                      bool grads) {
  return scratch_layout(cfg, B, K, H, grads).bytes;
}

void reserve_contrastive_loss(const LossConfig& cfg, int64_t B, int64_t K, int64_t H, bool grads,
                              Runtime& rt) {
  rt.impl().scratch_for(contrastive_loss_scratch_bytes(cfg, B, K, H, grads));
}

LossStats contrastive_loss(float* dq, float* dp, float* dn, const float* q, const float* p,
                           const float* n, const uint8_t* neg_mask, int64_t B, int64_t K, int64_t H,
                           const LossConfig& cfg, Runtime& rt) {
  const int64_t NK = B * K;
  const bool exclusive = cfg.mode == LossMode::ExclusiveHardNegatives;
  Problem pb{q, p, n, neg_mask, B, K, H, NK, exclusive ? B + K : B + NK, exclusive, cfg.clamps(),
             cfg.logit_scale(), cfg.label_smoothing, 1.0 / static_cast<double>(B)};
  if (NK == 0) dn = nullptr;
  const bool want_grad = dq || dp || dn;
  const Scratch lay = scratch_layout(cfg, B, K, H, want_grad);
  const int64_t M = lay.M, R = lay.R, acc = lay.acc;
  auto* S = static_cast<double*>(rt.impl().scratch_for(lay.bytes));
  double* acc_q = S + R * M;
  double* acc_p = acc_q + B * H;
  double* acc_n = acc_p + B * H;
  auto* rows = reinterpret_cast<RowStats*>(S + R * M + acc);
  RowStats* sums = rows + B;
  const cudaStream_t st = stream_of(rt);

  for (int64_t r0 = 0; r0 < B; r0 += R) {
    const int64_t nr = std::min(R, B - r0);
    launch_gemm(ScoresP{pb, S, r0}, nr, B, H, st);
    if (NK > 0 && exclusive) {
      simt::launch<own_scores_kernel>(
          {grid_for(nr * K, kPairWarps, "loss"), dim3(kWarp, kPairWarps), 0, st}, S, pb, r0, nr);
      SBERT_LAUNCH_CHECK("loss");
    } else if (NK > 0) {
      launch_gemm(ScoresN{pb, S, r0}, nr, NK, H, st);
    }
    simt::launch<row_kernel>({grid_for(nr, 1, "loss"), kThreads, 0, st}, S, rows, pb, r0,
                             want_grad);
    SBERT_LAUNCH_CHECK("loss");
    if (!want_grad) continue;
    const bool first = r0 == 0;
    if (dq) launch_gemm(GradQ{pb, S, acc_q, r0}, nr, H, exclusive ? B : B + NK, st);
    if (dp) launch_gemm(GradPN{pb, S, acc_p, r0, 0, first}, B, H, nr, st);
    if (dn && exclusive) {
      simt::launch<own_grad_kernel>({grid_for(nr * K * H, kThreads, "loss"), kThreads, 0, st},
                                    acc_n, S, pb, r0, nr);
      SBERT_LAUNCH_CHECK("loss");
    } else if (dn) {
      launch_gemm(GradPN{pb, S, acc_n, r0, B, first}, NK, H, nr, st);
    }
  }
  simt::launch<sum_rows_kernel>({1, 1, 0, st}, sums, rows, B);
  SBERT_LAUNCH_CHECK("loss");
  round_to(dq, acc_q, B * H, st);
  round_to(dp, acc_p, B * H, st);
  round_to(dn, acc_n, NK * H, st);

  RowStats t{};
  stream_copy_to_host(&t, sums, sizeof(t), rt);  // waits for the stream: the one round trip
  // The CPU's final formulas (cpu/loss.cpp).
  const double invB = pb.invB;
  LossStats out;
  out.loss = t.loss * invB;
  out.accuracy = static_cast<double>(t.correct) * invB;
  out.pos_score = t.pos * invB;
  out.inbatch_neg_score = B > 1 ? t.inbatch / static_cast<double>(B * (B - 1)) : 0.0;
  out.hard_neg_score = t.hard_count > 0 ? t.hard / static_cast<double>(t.hard_count) : 0.0;
  out.hard_negatives = t.hard_count;
  return out;
}

}  // namespace sbert::cuda
