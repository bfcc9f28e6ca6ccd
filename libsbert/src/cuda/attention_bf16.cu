// Tensor-core attention forward and backward, FlashAttention-2 style, on packed sequences: the
// twin of cpu/attention_bf16.cpp (math and rounding points in cpu/attention_bf16.h).
//
// One block of 4 warps per (sequence, head, query tile of 64 rows); a warp owns 16 query rows.
// The block's Q tile and each key tile of K and V come into shared memory by cp.async, two key
// tiles in flight (double buffering); fragments come out by ldmatrix (.trans for V, whose rows
// are the k dimension of P V). Per key tile, in registers:
//     S = Q K^T                  mma.sync m16n8k16, bf16 in, fp32 accumulate (16 x 64 per warp)
//     s = S scale log2(e), -inf past the sequence;  m' = max(m, rowmax s);  c = exp2(m - m')
//     p = exp2(s - m');  l = l c + rowsum p;  O = O c + bf16(p o F) V;  m = m'
// A row lives in the 4 lanes of a quad (mma's C layout), so the row max is two __shfl_xor_sync;
// l stays a per-lane partial sum (c is the same across the quad) until the end. The S
// accumulators of two neighbouring n tiles are exactly the A fragment of P V for one k step, so
// P never leaves registers. At the end O / l is stored as bf16 and lse = m ln 2 + log l.
// Rows and keys past the sequence are zero-filled by cp.async (so 0 * garbage never makes NaN)
// and the keys masked; tiles wholly past a sequence's end are never visited (a block whose
// query tile starts past it returns at once).
// Backward (below): FlashAttention-2's, as two kernels without atomics (dQ per query tile; dK
// and dV per key tile), P recomputed from lse; see the comments of the kernels.
#include <algorithm>
#include <cmath>

#include "cpu/attention_bf16.h"
#include "cuda/attention_bf16.h"
#include "cuda/common.cuh"
#include "cuda/philox.cuh"
#include "simt/bf16.cuh"
#include "simt/mma.cuh"

namespace sbert::cuda {

namespace {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarp;
constexpr int kRowsPerWarp = 16;                              // mma's m
constexpr int kBM = kWarps * kRowsPerWarp;                    // query rows per block
constexpr int kBN = static_cast<int>(cpu::kAttnBf16KeyTile);  // keys per tile (the twin's)
static_assert(kBN % 16 == 0, "a key tile is whole k steps of P V");

// Shared tiles of D columns with a row stride of D + 8 bf16: rows stay 16-byte aligned (cp.async,
// ldmatrix) and the 8 rows one ldmatrix reads fall in different banks.
template <int D>
struct Smem {
  static_assert(D == 32 || D == 64 || D == 128, "head dims 32, 64, 128");
  static constexpr int kLd = D + 8;
  static constexpr int kQ = kBM * kLd;                             // (kBM, kLd)
  static constexpr int kKV = kBN * kLd;                            // (kBN, kLd), one buffer
  static constexpr size_t kBytes = sizeof(bf16) * (kQ + 4 * kKV);  // Q, K[2], V[2]
};

struct Bf16AttnArgs {
  const int64_t* cu_seqlens;
  int64_t nseq;
  int heads;
  int64_t H;         // heads * D
  float scale;       // 1 / sqrt(D)
  float scale_log2;  // log2(e) / sqrt(D)
  DropoutKey drop;
};

// Rows r0 .. r0 + R of a (len, D) slice with row stride ld into the shared tile (R, D + 8), one
// 16-byte cp.async per chunk; rows past len are zero-filled (the source, not read, stays a valid
// aligned address).
template <int D, int R>
__device__ __forceinline__ void load_rows(bf16* tile, const bf16* g, int64_t ld, int64_t r0,
                                          int64_t len) {
  constexpr int kChunks = D / 8;
  for (int idx = static_cast<int>(threadIdx.x); idx < R * kChunks; idx += kThreads) {
    const int i = idx / kChunks, c = idx % kChunks;
    const bool in = r0 + i < len;
    const bf16* src = in ? g + (r0 + i) * ld + c * 8 : g;
    simt::cp_async_16_zfill(tile + i * Smem<D>::kLd + c * 8, src, in ? 16u : 0u);
  }
}

// Dropout factor of (head h, query token tq, key token tk), packed-stream token indices: the
// element index of attention_forward (docs/kernels.md).
__device__ __forceinline__ float prob_factor(const DropoutKey& k, int h, int64_t T, int64_t tq,
                                             int64_t tk) {
  const uint64_t e =
      (static_cast<uint64_t>(h) * static_cast<uint64_t>(T) + static_cast<uint64_t>(tq)) *
          static_cast<uint64_t>(T) +
      static_cast<uint64_t>(tk);
  return dropout_factor(k, e);
}

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_forward_bf16_kernel(bf16* out, float* lse, const bf16* qkv, Bf16AttnArgs a) {
  constexpr int LD = Smem<D>::kLd;
  constexpr int kDSteps = D / 16;    // k steps of S = Q K^T
  constexpr int kSTiles = kBN / 8;   // n tiles of S (8 keys each)
  constexpr int kPSteps = kBN / 16;  // k steps of O = P V
  constexpr int kOTiles = D / 8;     // n tiles of O
  SIMT_DYNAMIC_SHARED(bf16, smem);
  bf16* const sQ = smem;                   // (kBM, LD)
  bf16* const sK = sQ + Smem<D>::kQ;       // [2] (kBN, LD)
  bf16* const sV = sK + 2 * Smem<D>::kKV;  // [2] (kBN, LD)

  const int64_t seq = blockIdx.x / static_cast<unsigned>(a.heads);
  const int h = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.heads));
  const int64_t start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int64_t T = a.cu_seqlens[a.nseq];
  const int64_t ld = 3 * a.H;
  const bf16* Qg = qkv + start * ld + static_cast<int64_t>(h) * D;  // (len, D), stride 3H
  const bf16* Kg = Qg + a.H;
  const bf16* Vg = Qg + 2 * a.H;
  const int warp = static_cast<int>(threadIdx.x) / kWarp,
            lane = static_cast<int>(threadIdx.x) % kWarp;
  const int g = lane >> 2, t = lane & 3;  // mma fragment row (and row + 8) and column pair
  const int64_t nk = (len + kBN - 1) / kBN;

  for (int64_t q0 = static_cast<int64_t>(blockIdx.y) * kBM; q0 < len;
       q0 += static_cast<int64_t>(gridDim.y) * kBM) {
    load_rows<D, kBM>(sQ, Qg, ld, q0, len);
    load_rows<D, kBN>(sK, Kg, ld, 0, len);
    load_rows<D, kBN>(sV, Vg, ld, 0, len);
    simt::cp_async_commit();

    uint32_t qf[kDSteps][4];              // this warp's 16 rows of Q as A fragments, loaded once
    float o[kOTiles][4] = {};             // O accumulator: rows g, g + 8; columns 8 j + 2 t, + 1
    float m[2] = {-INFINITY, -INFINITY};  // running max of rows g, g + 8 (log2 units)
    float l[2] = {0.0f, 0.0f};            // this lane's part of the running row sums
    for (int64_t kt = 0; kt < nk; ++kt) {
      const int buf = static_cast<int>(kt & 1);
      if (kt + 1 < nk) {
        load_rows<D, kBN>(sK + (buf ^ 1) * Smem<D>::kKV, Kg, ld, (kt + 1) * kBN, len);
        load_rows<D, kBN>(sV + (buf ^ 1) * Smem<D>::kKV, Vg, ld, (kt + 1) * kBN, len);
      }
      simt::cp_async_commit();  // possibly empty: wait<1> then always means "all but the next"
      simt::cp_async_wait<1>();
      __syncthreads();
      if (kt == 0) {
#pragma unroll
        for (int ks = 0; ks < kDSteps; ++ks) {
          simt::ldmatrix_x4(
              qf[ks], &sQ[(warp * kRowsPerWarp + lane % 16) * LD + ks * 16 + (lane / 16) * 8]);
        }
      }
      const bf16* k = sK + buf * Smem<D>::kKV;
      const bf16* v = sV + buf * Smem<D>::kKV;

      float s[kSTiles][4] = {};  // S: rows g, g + 8; keys 8 n + 2 t, + 1
#pragma unroll
      for (int ks = 0; ks < kDSteps; ++ks) {
#pragma unroll
        for (int n2 = 0; n2 < kSTiles / 2; ++n2) {
          // Matrices: keys 16 n2 + 0-7 at d 0-7, 8-15 of the k step; then keys + 8-15.
          uint32_t kf[4];
          simt::ldmatrix_x4(
              kf, &k[(n2 * 16 + (lane / 16) * 8 + lane % 8) * LD + ks * 16 + ((lane / 8) % 2) * 8]);
          simt::mma_m16n8k16_bf16(s[2 * n2], qf[ks], &kf[0], s[2 * n2]);
          simt::mma_m16n8k16_bf16(s[2 * n2 + 1], qf[ks], &kf[2], s[2 * n2 + 1]);
        }
      }

      const int64_t k0 = kt * kBN;
      float mx[2] = {m[0], m[1]};
#pragma unroll
      for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float x = k0 + n * 8 + 2 * t + (e & 1) < len ? s[n][e] * a.scale_log2 : -INFINITY;
          s[n][e] = x;
          mx[e >> 1] = fmaxf(mx[e >> 1], x);
        }
      }
      float corr[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        mx[r] = quad_max(mx[r]);        // finite: key k0 is in the sequence
        corr[r] = exp2f(m[r] - mx[r]);  // 0 on the first tile (exp2(-inf))
        m[r] = mx[r];
      }
      float rs[2] = {0.0f, 0.0f};
#pragma unroll
      for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float p = exp2f(s[n][e] - m[e >> 1]);  // 0 for masked keys
          rs[e >> 1] += p;
          if (a.drop.active) {
            const int64_t row = q0 + warp * kRowsPerWarp + g + 8 * (e >> 1);
            const int64_t col = k0 + n * 8 + 2 * t + (e & 1);
            if (row < len && col < len) p *= prob_factor(a.drop, h, T, start + row, start + col);
          }
          s[n][e] = p;
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) l[r] = l[r] * corr[r] + rs[r];
#pragma unroll
      for (int j = 0; j < kOTiles; ++j) {
        o[j][0] *= corr[0], o[j][1] *= corr[0];
        o[j][2] *= corr[1], o[j][3] *= corr[1];
      }
#pragma unroll
      for (int kk = 0; kk < kPSteps; ++kk) {
        // The C fragments of S tiles 2 kk and 2 kk + 1 are the A fragment of keys 16 kk ..
        const uint32_t pf[4] = {
            simt::pack_bf16x2(__float2bfloat16(s[2 * kk][0]), __float2bfloat16(s[2 * kk][1])),
            simt::pack_bf16x2(__float2bfloat16(s[2 * kk][2]), __float2bfloat16(s[2 * kk][3])),
            simt::pack_bf16x2(__float2bfloat16(s[2 * kk + 1][0]),
                              __float2bfloat16(s[2 * kk + 1][1])),
            simt::pack_bf16x2(__float2bfloat16(s[2 * kk + 1][2]),
                              __float2bfloat16(s[2 * kk + 1][3]))};
#pragma unroll
        for (int j2 = 0; j2 < kOTiles / 2; ++j2) {
          // Transposed matrices: keys 16 kk + 0-7, 8-15 at d 16 j2 + 0-7; then at d + 8-15.
          uint32_t vf[4];
          simt::ldmatrix_x4_trans(vf, &v[(kk * 16 + lane % 16) * LD + j2 * 16 + (lane / 16) * 8]);
          simt::mma_m16n8k16_bf16(o[2 * j2], pf, &vf[0], o[2 * j2]);
          simt::mma_m16n8k16_bf16(o[2 * j2 + 1], pf, &vf[2], o[2 * j2 + 1]);
        }
      }
      __syncthreads();  // the buffer just read is refilled by the next iteration's copies
    }

#pragma unroll
    for (int r = 0; r < 2; ++r) {
      l[r] = quad_sum(l[r]);
      const int64_t row = q0 + warp * kRowsPerWarp + g + 8 * r;
      if (row >= len) continue;
      const float inv = 1.0f / l[r];
      const int64_t tok = start + row;
      __nv_bfloat162* dst =
          reinterpret_cast<__nv_bfloat162*>(out + tok * a.H + static_cast<int64_t>(h) * D + 2 * t);
#pragma unroll
      for (int j = 0; j < kOTiles; ++j) {
        dst[4 * j] = __floats2bfloat162_rn(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
      }
      if (lse && t == 0)
        lse[static_cast<int64_t>(h) * T + tok] = m[r] * cpu::kAttnBf16Ln2 + logf(l[r]);
    }
  }
}

// ---- backward -------------------------------------------------------------------------------

// Rows per tile of the side a backward block loops over: keys for dQ, queries for dK / dV. At
// head dim 128 the fp32 accumulators (16 x 128, two of them for dK and dV) leave room only for
// small score tiles: 32 keys for dQ, 16 query rows for dK / dV (nvcc: no spills); 64 below.
template <int D>
constexpr int kDqKeys = D == 128 ? 32 : 64;
template <int D>
constexpr int kDkvRows = D == 128 ? 16 : 64;

template <int D, int N>
struct BwdSmem {
  static constexpr int kLd = Smem<D>::kLd;
  static constexpr int kOwn = kBM * kLd;  // (64, kLd): the block's own rows
  static constexpr int kLoop = N * kLd;   // (N, kLd): one buffer of a loop tile
  // Two own tiles (Q, dO or K, V), two loop tiles twice buffered, then fp32 row stats [2][2][N].
  static constexpr size_t kStatsOffset = sizeof(bf16) * (2 * kOwn + 4 * kLoop);
  static constexpr size_t kBytes = kStatsOffset + sizeof(float) * 4 * N;
  static_assert(kStatsOffset % 16 == 0, "the fp32 stats follow the bf16 tiles, aligned");
};

// Delta_i = dO_i . O_i of `rows` query rows from q0 (0 past len), by thread pairs: the even
// thread adds columns 0 .. D/2, the odd one D/2 .. D, then the two halves are added (the twin's
// order). Every thread of the block calls it (the pair exchange is a warp shuffle).
template <int D>
__device__ __forceinline__ void row_deltas(float* delta, const bf16* dOg, const bf16* Og, int64_t H,
                                           int64_t q0, int64_t len, int rows) {
  for (int base = 0; base < 2 * rows; base += kThreads) {
    const int idx = base + static_cast<int>(threadIdx.x), i = idx / 2, half = idx & 1;
    float acc = 0.0f;
    if (idx < 2 * rows && q0 + i < len) {
      const bf16* x = dOg + (q0 + i) * H + half * (D / 2);
      const bf16* y = Og + (q0 + i) * H + half * (D / 2);
      for (int c = 0; c < D / 2; ++c) acc += __bfloat162float(x[c]) * __bfloat162float(y[c]);
    }
    acc += __shfl_xor_sync(0xffffffffu, acc, 1);
    if (idx < 2 * rows && half == 0) delta[i] = acc;
  }
}

// lse of `rows` query rows from q0 in log2 units (0 past len: those rows are masked anyway).
__device__ __forceinline__ void row_lse2(float* lse2, const float* lse_h, int64_t q0, int64_t len,
                                         int rows) {
  for (int i = static_cast<int>(threadIdx.x); i < rows; i += kThreads) {
    lse2[i] = q0 + i < len ? lse_h[q0 + i] * cpu::kAttnBf16Log2e : 0.0f;
  }
}

// A fragments of a warp's 16 rows of a (.., LD) shared tile, one per k step of 16 columns.
template <int D>
__device__ __forceinline__ void load_a_frags(uint32_t (&f)[D / 16][4], const bf16* tile, int row0) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    simt::ldmatrix_x4(f[ks], &tile[(row0 + lane % 16) * Smem<D>::kLd + ks * 16 + (lane / 16) * 8]);
  }
}

// acc[n] += A B for n tiles of 8 rows of `rows` (B(k, n) = rows[n][k]: a row-major (N, D)
// tile used as the column-major B of A (16, D) times its transpose), over the k steps of D.
template <int D, int N>
__device__ __forceinline__ void mma_abt(float (&acc)[N / 8][4], const uint32_t (&a)[D / 16][4],
                                        const bf16* rows) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
    for (int n2 = 0; n2 < N / 16; ++n2) {
      uint32_t b[4];
      simt::ldmatrix_x4(b, &rows[(n2 * 16 + (lane / 16) * 8 + lane % 8) * Smem<D>::kLd + ks * 16 +
                                 ((lane / 8) % 2) * 8]);
      simt::mma_m16n8k16_bf16(acc[2 * n2], a[ks], &b[0], acc[2 * n2]);
      simt::mma_m16n8k16_bf16(acc[2 * n2 + 1], a[ks], &b[2], acc[2 * n2 + 1]);
    }
  }
}

// As mma_abt, the A fragments loaded per k step from a warp's 16 rows of a shared tile instead
// of held in registers (the dK / dV kernel's accumulators leave no room for them at D = 128).
template <int D, int N>
__device__ __forceinline__ void mma_abt_shared(float (&acc)[N / 8][4], const bf16* a_tile, int row0,
                                               const bf16* rows) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    uint32_t a[4];
    simt::ldmatrix_x4(a, &a_tile[(row0 + lane % 16) * Smem<D>::kLd + ks * 16 + (lane / 16) * 8]);
#pragma unroll
    for (int n2 = 0; n2 < N / 16; ++n2) {
      uint32_t b[4];
      simt::ldmatrix_x4(b, &rows[(n2 * 16 + (lane / 16) * 8 + lane % 8) * Smem<D>::kLd + ks * 16 +
                                 ((lane / 8) % 2) * 8]);
      simt::mma_m16n8k16_bf16(acc[2 * n2], a, &b[0], acc[2 * n2]);
      simt::mma_m16n8k16_bf16(acc[2 * n2 + 1], a, &b[2], acc[2 * n2 + 1]);
    }
  }
}

// acc (16, D) += X (16, K) R (K, D): X given as fp32 C fragments of K / 8 n tiles (rounded to
// bf16 here: they become the A fragments), R a row-major (K, D) shared tile (ldmatrix .trans).
template <int D, int K>
__device__ __forceinline__ void mma_xr(float (&acc)[D / 8][4], const float (&x)[K / 8][4],
                                       const bf16* r) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
#pragma unroll
  for (int kk = 0; kk < K / 16; ++kk) {
    const uint32_t a[4] = {
        simt::pack_bf16x2(__float2bfloat16(x[2 * kk][0]), __float2bfloat16(x[2 * kk][1])),
        simt::pack_bf16x2(__float2bfloat16(x[2 * kk][2]), __float2bfloat16(x[2 * kk][3])),
        simt::pack_bf16x2(__float2bfloat16(x[2 * kk + 1][0]), __float2bfloat16(x[2 * kk + 1][1])),
        simt::pack_bf16x2(__float2bfloat16(x[2 * kk + 1][2]), __float2bfloat16(x[2 * kk + 1][3]))};
#pragma unroll
    for (int j2 = 0; j2 < D / 16; ++j2) {
      uint32_t b[4];
      simt::ldmatrix_x4_trans(b,
                              &r[(kk * 16 + lane % 16) * Smem<D>::kLd + j2 * 16 + (lane / 16) * 8]);
      simt::mma_m16n8k16_bf16(acc[2 * j2], a, &b[0], acc[2 * j2]);
      simt::mma_m16n8k16_bf16(acc[2 * j2 + 1], a, &b[2], acc[2 * j2 + 1]);
    }
  }
}

// Stores a warp's (16, D) fp32 accumulator times `mul` as bf16 rows r0 + g, r0 + g + 8 of a
// (len, D) slice with row stride ld (rows past len skipped).
template <int D>
__device__ __forceinline__ void store_rows(bf16* dst, int64_t ld, const float (&acc)[D / 8][4],
                                           float mul, int64_t r0, int64_t len) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = r0 + g + 8 * r;
    if (row >= len) continue;
    auto* p = reinterpret_cast<__nv_bfloat162*>(dst + row * ld + 2 * t);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      p[4 * j] = __floats2bfloat162_rn(acc[j][2 * r] * mul, acc[j][2 * r + 1] * mul);
    }
  }
}

// dQ per query tile of 64 rows (16 per warp), looping over key tiles of kDqKeys keys:
//   S = Q K^T, P = exp2(S scale log2(e) - lse log2(e)), dP = (dO V^T) o F,
//   dS = P o (dP - Delta), dQ += bf16(dS) K;  finally dQ scale -> bf16.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_dq_bf16_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                             const float* lse, Bf16AttnArgs a) {
  constexpr int kKeys = kDqKeys<D>;
  using L = BwdSmem<D, kKeys>;
  SIMT_DYNAMIC_SHARED(bf16, smem);
  bf16* const sQ = smem;               // (64, LD)
  bf16* const sdO = sQ + L::kOwn;      // (64, LD)
  bf16* const sK = sdO + L::kOwn;      // [2] (kKeys, LD)
  bf16* const sV = sK + 2 * L::kLoop;  // [2] (kKeys, LD)
  float* const sDelta = reinterpret_cast<float*>(reinterpret_cast<char*>(smem) + L::kStatsOffset);

  const int64_t seq = blockIdx.x / static_cast<unsigned>(a.heads);
  const int h = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.heads));
  const int64_t start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int64_t T = a.cu_seqlens[a.nseq], ld = 3 * a.H, hd = static_cast<int64_t>(h) * D;
  const bf16* Qg = qkv + start * ld + hd;
  const bf16* Kg = Qg + a.H;
  const bf16* Vg = Qg + 2 * a.H;
  const bf16* dOg = dout + start * a.H + hd;  // (len, D), stride H
  const bf16* Og = out + start * a.H + hd;
  const float* lse_h = lse + static_cast<int64_t>(h) * T + start;
  const int warp = static_cast<int>(threadIdx.x) / kWarp,
            lane = static_cast<int>(threadIdx.x) % kWarp;
  const int g = lane >> 2, t = lane & 3;
  const int64_t nk = (len + kKeys - 1) / kKeys;

  for (int64_t q0 = static_cast<int64_t>(blockIdx.y) * kBM; q0 < len;
       q0 += static_cast<int64_t>(gridDim.y) * kBM) {
    load_rows<D, kBM>(sQ, Qg, ld, q0, len);
    load_rows<D, kBM>(sdO, dOg, a.H, q0, len);
    load_rows<D, kKeys>(sK, Kg, ld, 0, len);
    load_rows<D, kKeys>(sV, Vg, ld, 0, len);
    simt::cp_async_commit();
    row_deltas<D>(sDelta, dOg, Og, a.H, q0, len, kBM);

    const int64_t row0 = q0 + warp * kRowsPerWarp;
    float lse2[2], delta[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t row = row0 + g + 8 * r;
      lse2[r] = row < len ? lse_h[row] * cpu::kAttnBf16Log2e : 0.0f;
    }
    uint32_t qf[D / 16][4], dof[D / 16][4];
    float dq[D / 8][4] = {};
    for (int64_t kt = 0; kt < nk; ++kt) {
      const int buf = static_cast<int>(kt & 1);
      if (kt + 1 < nk) {
        load_rows<D, kKeys>(sK + (buf ^ 1) * L::kLoop, Kg, ld, (kt + 1) * kKeys, len);
        load_rows<D, kKeys>(sV + (buf ^ 1) * L::kLoop, Vg, ld, (kt + 1) * kKeys, len);
      }
      simt::cp_async_commit();
      simt::cp_async_wait<1>();
      __syncthreads();
      if (kt == 0) {
        load_a_frags<D>(qf, sQ, warp * kRowsPerWarp);
        load_a_frags<D>(dof, sdO, warp * kRowsPerWarp);
#pragma unroll
        for (int r = 0; r < 2; ++r) delta[r] = sDelta[warp * kRowsPerWarp + g + 8 * r];
      }
      const bf16* k = sK + buf * L::kLoop;
      const bf16* v = sV + buf * L::kLoop;
      float s[kKeys / 8][4] = {}, dp[kKeys / 8][4] = {};
      mma_abt<D, kKeys>(s, qf, k);
      mma_abt<D, kKeys>(dp, dof, v);
      const int64_t k0 = kt * kKeys;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e >> 1;
          const int64_t row = row0 + g + 8 * r, col = k0 + n * 8 + 2 * t + (e & 1);
          const bool in = row < len && col < len;
          const float p = in ? exp2f(s[n][e] * a.scale_log2 - lse2[r]) : 0.0f;
          float f = 1.0f;
          if (a.drop.active && in) f = prob_factor(a.drop, h, T, start + row, start + col);
          s[n][e] = p * (dp[n][e] * f - delta[r]);  // dS
        }
      }
      mma_xr<D, kKeys>(dq, s, k);
      __syncthreads();  // the buffer just read is refilled by the next iteration's copies
    }
    store_rows<D>(dqkv + start * ld + hd, ld, dq, a.scale, row0, len);
    __syncthreads();  // sDelta and the own tiles are rewritten by the next query tile
  }
}

// dK, dV per key tile of 64 keys (16 per warp), looping over query tiles of kDkvRows rows, in
// the transposed orientation (rows = keys):
//   S^T = K Q^T, P^T = exp2(S^T scale log2(e) - lse log2(e)), dP^T = (V dO^T) o F^T,
//   dS^T = P^T o (dP^T - Delta), dV += bf16(P^T o F^T) dO, dK += bf16(dS^T) Q;
//   finally dK scale, dV -> bf16.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_bf16_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                              const float* lse, Bf16AttnArgs a) {
  constexpr int kQRows = kDkvRows<D>;
  using L = BwdSmem<D, kQRows>;
  SIMT_DYNAMIC_SHARED(bf16, smem);
  bf16* const sK = smem;                // (64, LD)
  bf16* const sV = sK + L::kOwn;        // (64, LD)
  bf16* const sQ = sV + L::kOwn;        // [2] (kQRows, LD)
  bf16* const sdO = sQ + 2 * L::kLoop;  // [2] (kQRows, LD)
  float* const sLse2 = reinterpret_cast<float*>(reinterpret_cast<char*>(smem) + L::kStatsOffset);
  float* const sDelta = sLse2 + 2 * kQRows;  // [2] (kQRows) each

  const int64_t seq = blockIdx.x / static_cast<unsigned>(a.heads);
  const int h = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.heads));
  const int64_t start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int64_t T = a.cu_seqlens[a.nseq], ld = 3 * a.H, hd = static_cast<int64_t>(h) * D;
  const bf16* Qg = qkv + start * ld + hd;
  const bf16* Kg = Qg + a.H;
  const bf16* Vg = Qg + 2 * a.H;
  const bf16* dOg = dout + start * a.H + hd;
  const bf16* Og = out + start * a.H + hd;
  const float* lse_h = lse + static_cast<int64_t>(h) * T + start;
  const int warp = static_cast<int>(threadIdx.x) / kWarp,
            lane = static_cast<int>(threadIdx.x) % kWarp;
  const int g = lane >> 2, t = lane & 3;
  const int64_t nq = (len + kQRows - 1) / kQRows;

  for (int64_t k0 = static_cast<int64_t>(blockIdx.y) * kBM; k0 < len;
       k0 += static_cast<int64_t>(gridDim.y) * kBM) {
    load_rows<D, kBM>(sK, Kg, ld, k0, len);
    load_rows<D, kBM>(sV, Vg, ld, k0, len);
    load_rows<D, kQRows>(sQ, Qg, ld, 0, len);
    load_rows<D, kQRows>(sdO, dOg, a.H, 0, len);
    simt::cp_async_commit();
    row_lse2(sLse2, lse_h, 0, len, kQRows);
    row_deltas<D>(sDelta, dOg, Og, a.H, 0, len, kQRows);

    const int64_t key0 = k0 + warp * kRowsPerWarp;
    float dk[D / 8][4] = {}, dv[D / 8][4] = {};
    for (int64_t qt = 0; qt < nq; ++qt) {
      const int buf = static_cast<int>(qt & 1);
      if (qt + 1 < nq) {
        const int64_t next = (qt + 1) * kQRows;
        load_rows<D, kQRows>(sQ + (buf ^ 1) * L::kLoop, Qg, ld, next, len);
        load_rows<D, kQRows>(sdO + (buf ^ 1) * L::kLoop, dOg, a.H, next, len);
        row_lse2(sLse2 + (buf ^ 1) * kQRows, lse_h, next, len, kQRows);
        row_deltas<D>(sDelta + (buf ^ 1) * kQRows, dOg, Og, a.H, next, len, kQRows);
      }
      simt::cp_async_commit();
      simt::cp_async_wait<1>();
      __syncthreads();
      const bf16* q = sQ + buf * L::kLoop;
      const bf16* dO = sdO + buf * L::kLoop;
      const float* lse2 = sLse2 + buf * kQRows;
      const float* delta = sDelta + buf * kQRows;
      float st[kQRows / 8][4] = {}, dpt[kQRows / 8][4] = {};
      mma_abt_shared<D, kQRows>(st, sK, warp * kRowsPerWarp, q);
      mma_abt_shared<D, kQRows>(dpt, sV, warp * kRowsPerWarp, dO);
      const int64_t q0 = qt * kQRows;
#pragma unroll
      for (int n = 0; n < kQRows / 8; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int c = n * 8 + 2 * t + (e & 1);  // query row within the tile
          const int64_t key = key0 + g + 8 * (e >> 1), row = q0 + c;
          const bool in = row < len && key < len;
          const float p = in ? exp2f(st[n][e] * a.scale_log2 - lse2[c]) : 0.0f;
          float f = 1.0f;
          if (a.drop.active && in) f = prob_factor(a.drop, h, T, start + row, start + key);
          st[n][e] = p * f;                            // P o F
          dpt[n][e] = p * (dpt[n][e] * f - delta[c]);  // dS
        }
      }
      mma_xr<D, kQRows>(dv, st, dO);
      mma_xr<D, kQRows>(dk, dpt, q);
      __syncthreads();  // the buffers just read are refilled by the next iteration
    }
    store_rows<D>(dqkv + start * ld + a.H + hd, ld, dk, a.scale, key0, len);
    store_rows<D>(dqkv + start * ld + 2 * a.H + hd, ld, dv, 1.0f, key0, len);
    __syncthreads();  // the own tiles and stats are rewritten by the next key tile
  }
}

template <int D>
void forward_impl(bf16* out, float* lse, const bf16* qkv, const Bf16AttnArgs& a, dim3 grid,
                  cudaStream_t stream) {
  constexpr size_t smem = Smem<D>::kBytes;
  if (smem > 48 * 1024) {
    SBERT_CUDA_CHECK(cudaFuncSetAttribute(attention_forward_bf16_kernel<D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(smem)));
  }
  simt::launch<attention_forward_bf16_kernel<D>>({grid, kThreads, smem, stream}, out, lse, qkv, a);
  SBERT_LAUNCH_CHECK("attention_forward_bf16");
}

template <int D>
void backward_impl(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                   const Bf16AttnArgs& a, dim3 grid, cudaStream_t stream) {
  constexpr size_t smem_q = BwdSmem<D, kDqKeys<D>>::kBytes;
  constexpr size_t smem_kv = BwdSmem<D, kDkvRows<D>>::kBytes;
  if (smem_q > 48 * 1024) {
    SBERT_CUDA_CHECK(cudaFuncSetAttribute(attention_dq_bf16_kernel<D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(smem_q)));
  }
  if (smem_kv > 48 * 1024) {
    SBERT_CUDA_CHECK(cudaFuncSetAttribute(attention_dkv_bf16_kernel<D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(smem_kv)));
  }
  simt::launch<attention_dq_bf16_kernel<D>>({grid, kThreads, smem_q, stream}, dqkv, dout, qkv, out,
                                            lse, a);
  SBERT_LAUNCH_CHECK("attention_backward_bf16");
  simt::launch<attention_dkv_bf16_kernel<D>>({grid, kThreads, smem_kv, stream}, dqkv, dout, qkv,
                                             out, lse, a);
  SBERT_LAUNCH_CHECK("attention_backward_bf16");
}

Bf16AttnArgs make_args(const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                       const DropoutSpec& dropout) {
  Bf16AttnArgs a;
  a.cu_seqlens = cu_seqlens;
  a.nseq = nseq;
  a.heads = static_cast<int>(heads);
  a.H = heads * head_dim;
  a.scale = cpu::attn_bf16_scale(head_dim);
  a.scale_log2 = cpu::attn_bf16_scale_log2(head_dim);
  a.drop = dropout_key(dropout);
  return a;
}

void check_args(int64_t nseq, int64_t max_seqlen, int64_t heads, int64_t head_dim, const char* op) {
  SBERT_CHECK(head_dim == 32 || head_dim == 64 || head_dim == 128, "[", op, "] head_dim ", head_dim,
              " is not supported (32, 64 or 128)");
  SBERT_CHECK(heads > 0 && nseq >= 0 && max_seqlen >= 0, "[", op,
              "] heads must be positive and nseq, max_seqlen non-negative, got heads ", heads,
              ", nseq ", nseq, ", max_seqlen ", max_seqlen);
}

// x: (sequence, head) pairs; y: 64-row tiles of the longest sequence (blocks stride past 65535).
dim3 tile_grid(int64_t nseq, int64_t heads, int64_t max_seqlen, const char* op) {
  const int64_t tiles = std::clamp<int64_t>((max_seqlen + kBM - 1) / kBM, 1, 65535);
  return dim3(grid_for(nseq * heads, 1, op), static_cast<unsigned>(tiles));
}

bool aligned(const void* p, uintptr_t n) { return reinterpret_cast<uintptr_t>(p) % n == 0; }

}  // namespace

void attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* qkv,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t max_seqlen,
                            int64_t heads, int64_t head_dim, const DropoutSpec& dropout,
                            Runtime& rt) {
  const char* op = "attention_forward_bf16";
  check_args(nseq, max_seqlen, heads, head_dim, op);
  SBERT_CHECK(aligned(qkv, 16) && aligned(out, 4), "[", op,
              "] qkv must be 16-byte aligned and out 4-byte aligned (cp.async, bf16 pairs)");
  if (nseq == 0) return;
  const Bf16AttnArgs a = make_args(cu_seqlens, nseq, heads, head_dim, dropout);
  const dim3 grid = tile_grid(nseq, heads, max_seqlen, op);
  auto* o = reinterpret_cast<bf16*>(out);
  const auto* in = reinterpret_cast<const bf16*>(qkv);
  if (head_dim == 32) {
    forward_impl<32>(o, lse, in, a, grid, stream_of(rt));
  } else if (head_dim == 64) {
    forward_impl<64>(o, lse, in, a, grid, stream_of(rt));
  } else {
    forward_impl<128>(o, lse, in, a, grid, stream_of(rt));
  }
}

void attention_backward_bf16(uint16_t* dqkv, const uint16_t* dout, const uint16_t* qkv,
                             const uint16_t* out, const float* lse, const int64_t* cu_seqlens,
                             int64_t nseq, int64_t max_seqlen, int64_t heads, int64_t head_dim,
                             const DropoutSpec& dropout, Runtime& rt) {
  const char* op = "attention_backward_bf16";
  check_args(nseq, max_seqlen, heads, head_dim, op);
  SBERT_CHECK(lse, "[", op, "] lse (saved by the forward) is null");
  SBERT_CHECK(aligned(qkv, 16) && aligned(dout, 16) && aligned(dqkv, 4), "[", op,
              "] qkv and dout must be 16-byte aligned and dqkv 4-byte aligned (cp.async, bf16 "
              "pairs)");
  if (nseq == 0) return;
  const Bf16AttnArgs a = make_args(cu_seqlens, nseq, heads, head_dim, dropout);
  const dim3 grid = tile_grid(nseq, heads, max_seqlen, op);
  auto* d = reinterpret_cast<bf16*>(dqkv);
  const auto* dO = reinterpret_cast<const bf16*>(dout);
  const auto* in = reinterpret_cast<const bf16*>(qkv);
  const auto* o = reinterpret_cast<const bf16*>(out);
  if (head_dim == 32) {
    backward_impl<32>(d, dO, in, o, lse, a, grid, stream_of(rt));
  } else if (head_dim == 64) {
    backward_impl<64>(d, dO, in, o, lse, a, grid, stream_of(rt));
  } else {
    backward_impl<128>(d, dO, in, o, lse, a, grid, stream_of(rt));
  }
}

}  // namespace sbert::cuda
