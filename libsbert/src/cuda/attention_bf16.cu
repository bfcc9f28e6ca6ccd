// Tensor-core attention forward, FlashAttention-2 style, on packed sequences: the twin of
// cpu/attention_bf16.cpp (math and rounding points in cpu/attention_bf16.h).
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
constexpr int kRowsPerWarp = 16;                          // mma's m
constexpr int kBM = kWarps * kRowsPerWarp;                // query rows per block
constexpr int kBN = static_cast<int>(cpu::kAttnBf16KeyTile);  // keys per tile (the twin's)
static_assert(kBN % 16 == 0, "a key tile is whole k steps of P V");

// Shared tiles of D columns with a row stride of D + 8 bf16: rows stay 16-byte aligned (cp.async,
// ldmatrix) and the 8 rows one ldmatrix reads fall in different banks.
template <int D>
struct Smem {
  static_assert(D == 32 || D == 64 || D == 128, "head dims 32, 64, 128");
  static constexpr int kLd = D + 8;
  static constexpr int kQ = kBM * kLd;   // (kBM, kLd)
  static constexpr int kKV = kBN * kLd;  // (kBN, kLd), one buffer
  static constexpr size_t kBytes = sizeof(bf16) * (kQ + 4 * kKV);  // Q, K[2], V[2]
};

struct Bf16AttnArgs {
  const int64_t* cu_seqlens;
  int64_t nseq;
  int heads;
  int64_t H;         // heads * D
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
  constexpr int kDSteps = D / 16;   // k steps of S = Q K^T
  constexpr int kSTiles = kBN / 8;  // n tiles of S (8 keys each)
  constexpr int kPSteps = kBN / 16; // k steps of O = P V
  constexpr int kOTiles = D / 8;    // n tiles of O
  SIMT_DYNAMIC_SHARED(bf16, smem);
  bf16* const sQ = smem;                  // (kBM, LD)
  bf16* const sK = sQ + Smem<D>::kQ;      // [2] (kBN, LD)
  bf16* const sV = sK + 2 * Smem<D>::kKV; // [2] (kBN, LD)

  const int64_t seq = blockIdx.x / static_cast<unsigned>(a.heads);
  const int h = static_cast<int>(blockIdx.x % static_cast<unsigned>(a.heads));
  const int64_t start = a.cu_seqlens[seq], len = a.cu_seqlens[seq + 1] - start;
  const int64_t T = a.cu_seqlens[a.nseq];
  const int64_t ld = 3 * a.H;
  const bf16* Qg = qkv + start * ld + static_cast<int64_t>(h) * D;  // (len, D), stride 3H
  const bf16* Kg = Qg + a.H;
  const bf16* Vg = Qg + 2 * a.H;
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  const int g = lane >> 2, t = lane & 3;  // mma fragment row (and row + 8) and column pair
  const int64_t nk = (len + kBN - 1) / kBN;

  for (int64_t q0 = static_cast<int64_t>(blockIdx.y) * kBM; q0 < len;
       q0 += static_cast<int64_t>(gridDim.y) * kBM) {
    load_rows<D, kBM>(sQ, Qg, ld, q0, len);
    load_rows<D, kBN>(sK, Kg, ld, 0, len);
    load_rows<D, kBN>(sV, Vg, ld, 0, len);
    simt::cp_async_commit();

    uint32_t qf[kDSteps][4];     // this warp's 16 rows of Q as A fragments, loaded once
    float o[kOTiles][4] = {};    // O accumulator: rows g, g + 8; columns 8 j + 2 t, + 1
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
          simt::ldmatrix_x4(qf[ks],
                            &sQ[(warp * kRowsPerWarp + lane % 16) * LD + ks * 16 + (lane / 16) * 8]);
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
          simt::ldmatrix_x4(kf, &k[(n2 * 16 + (lane / 16) * 8 + lane % 8) * LD + ks * 16 +
                                   ((lane / 8) % 2) * 8]);
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
      if (lse && t == 0) lse[static_cast<int64_t>(h) * T + tok] = m[r] * cpu::kAttnBf16Ln2 + logf(l[r]);
    }
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

}  // namespace

void attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* qkv,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t max_seqlen,
                            int64_t heads, int64_t head_dim, const DropoutSpec& dropout,
                            Runtime& rt) {
  const char* op = "attention_forward_bf16";
  SBERT_CHECK(head_dim == 32 || head_dim == 64 || head_dim == 128, "[", op, "] head_dim ",
              head_dim, " is not supported (32, 64 or 128)");
  SBERT_CHECK(heads > 0 && nseq >= 0 && max_seqlen >= 0, "[", op,
              "] heads must be positive and nseq, max_seqlen non-negative, got heads ", heads,
              ", nseq ", nseq, ", max_seqlen ", max_seqlen);
  SBERT_CHECK(reinterpret_cast<uintptr_t>(qkv) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 4 == 0,
              "[", op, "] qkv must be 16-byte aligned and out 4-byte aligned (cp.async, bf16 pairs)");
  if (nseq == 0) return;
  Bf16AttnArgs a;
  a.cu_seqlens = cu_seqlens;
  a.nseq = nseq;
  a.heads = static_cast<int>(heads);
  a.H = heads * head_dim;
  a.scale_log2 = cpu::attn_bf16_scale_log2(head_dim);
  a.drop = dropout_key(dropout);
  // x: (sequence, head) pairs; y: query tiles of the longest sequence (blocks stride past 65535).
  const int64_t tiles = std::clamp<int64_t>((max_seqlen + kBM - 1) / kBM, 1, 65535);
  const dim3 grid(grid_for(nseq * heads, 1, op), static_cast<unsigned>(tiles));
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

}  // namespace sbert::cuda
