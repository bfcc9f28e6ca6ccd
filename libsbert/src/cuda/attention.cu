// Fused scaled dot-product attention on packed sequences, the twin of cpu/attention.cpp.
//
// One block per (sequence, head, tile of rows); blocks stride over the tiles of their sequence
// (grid y is fixed, sequence lengths stay on the device). Tiles of B rows of Q, K, V live in
// shared memory; scores exist only as a (B, B) tile in shared memory, never in global memory.
//
// Forward (online softmax, per query tile): for each key tile
//     S = scale Q K^T;  m' = max(m, rowmax S);  c = exp(m - m');  P~ = exp(S - m')
//     l = l c + rowsum P~;   O = O c + (P~ o F) V;   m = m'
//   then O /= l and lse = m + log l is saved. F: dropout factors of the probabilities (the CPU's
//   masks: element (h T + t_q) T + t_k), applied after the row sum, as the CPU applies them
//   after normalising.
// Backward recomputes P = exp(S - lse) tile by tile (flash-attention 2 style) and needs no
// scratch memory and no atomics: one kernel owns dQ (per query tile, looping over key tiles),
// another owns dK and dV (per key tile, looping over query tiles); both recompute
// Delta_i = dO_i . O_i for the query rows they visit.
//     dP = (dO V^T) o F,   dS = P o (dP - Delta),   dQ = scale dS K,   dK = scale dS^T Q,
//     dV = (P o F)^T dO
// Correctness first: plain fp32 FMA loops over shared memory (no tensor cores yet).
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/philox.cuh"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kTileBlocks = 8;  // grid y: blocks striding over the row tiles of a sequence

// Rows per tile and padded row stride of the shared tiles, by the head-dim bucket.
template <int kMaxD>
struct Tile {
  static constexpr int kRows = kMaxD >= 128 ? 16 : 32;
  static constexpr int kLd = kMaxD + 1;  // odd stride: column walks hit distinct banks
};

struct AttnArgs {
  const int64_t* cu_seqlens;
  int64_t nseq;
  int heads;
  int d;        // head_dim (<= kMaxD)
  int64_t H;    // heads * d
  float scale;  // 1 / sqrt(d)
  DropoutKey drop;
};

// The (sequence, head) pair of this block (blockIdx.x = sequence * heads + head): where its
// rows sit in the packed stream and where its head's columns start.
struct HeadSlice {
  int h;
  int64_t start, len;  // first token of the sequence, its tokens
  int64_t T;           // tokens of the packed stream
  int64_t ld;          // row stride of qkv: 3H
  int64_t hd;          // first column of head h: h * d
};
__device__ __forceinline__ HeadSlice head_slice(const AttnArgs& a) {
  const int64_t s = blockIdx.x / a.heads;
  const int h = static_cast<int>(blockIdx.x % a.heads);
  const int64_t start = a.cu_seqlens[s];
  return {h,
          start,
          a.cu_seqlens[s + 1] - start,
          a.cu_seqlens[a.nseq],
          3 * a.H,
          static_cast<int64_t>(h) * a.d};
}

// Loads rows r0 .. r0 + B of a (len, d) head slice with row stride ld into tile (B, LD),
// zero-filling rows past len.
template <int B, int LD>
__device__ __forceinline__ void load_tile(float* tile, const float* g, int64_t ld, int64_t r0,
                                          int64_t len, int d) {
  for (int idx = threadIdx.x; idx < B * d; idx += kThreads) {
    const int i = idx / d, c = idx % d;
    tile[i * LD + c] = r0 + i < len ? g[(r0 + i) * ld + c] : 0.0f;
  }
}

template <int B, int LD>
__device__ __forceinline__ void zero_tile(float* tile, int d) {
  for (int idx = threadIdx.x; idx < B * d; idx += kThreads) tile[(idx / d) * LD + idx % d] = 0.0f;
}

template <int LD>
__device__ __forceinline__ float dot_rows(const float* a, const float* b, int d) {
  float acc = 0.0f;
  for (int c = 0; c < d; ++c) acc += a[c] * b[c];
  return acc;
}

// Dropout element of (head h, query token tq, key token tk), token indices in the packed stream.
__device__ __forceinline__ float prob_factor(const DropoutKey& k, int h, int64_t T, int64_t tq,
                                             int64_t tk) {
  if (!k.active) return 1.0f;
  const uint64_t e =
      (static_cast<uint64_t>(h) * static_cast<uint64_t>(T) + static_cast<uint64_t>(tq)) *
          static_cast<uint64_t>(T) +
      static_cast<uint64_t>(tk);
  return dropout_factor(k, e);
}

template <int kMaxD>
size_t forward_smem() {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  return sizeof(float) * (4 * B * LD + B * B + 3 * B);
}
template <int kMaxD>
size_t dq_smem() {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  return sizeof(float) * (5 * B * LD + B * B + 2 * B);
}
template <int kMaxD>
size_t dkv_smem() {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  return sizeof(float) * (6 * B * LD + 2 * B * B + 2 * B);
}

template <int kMaxD>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* out, float* lse, const float* qkv, AttnArgs a) {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  SIMT_DYNAMIC_SHARED(float, smem);
  float* sQ = smem;         // (B, LD)
  float* sK = sQ + B * LD;  // (B, LD)
  float* sV = sK + B * LD;  // (B, LD)
  float* sO = sV + B * LD;  // (B, LD) unnormalised output accumulator
  float* sS = sO + B * LD;  // (B, B) scores, then dropped probabilities
  float* sM = sS + B * B;   // (B) running row max
  float* sL = sM + B;       // (B) running row sum (before dropout)
  float* sC = sL + B;       // (B) rescale factor of the current key tile

  const auto [h, start, len, T, ld, hd] = head_slice(a);
  const float* Qg = qkv + start * ld + hd;  // (len, d), stride ld
  const float* Kg = Qg + a.H;
  const float* Vg = Qg + 2 * a.H;
  const int d = a.d, tid = threadIdx.x;

  for (int64_t q0 = static_cast<int64_t>(blockIdx.y) * B; q0 < len;
       q0 += static_cast<int64_t>(gridDim.y) * B) {
    load_tile<B, LD>(sQ, Qg, ld, q0, len, d);
    zero_tile<B, LD>(sO, d);
    if (tid < B) {
      sM[tid] = -INFINITY;
      sL[tid] = 0.0f;
    }
    __syncthreads();
    for (int64_t k0 = 0; k0 < len; k0 += B) {
      load_tile<B, LD>(sK, Kg, ld, k0, len, d);
      load_tile<B, LD>(sV, Vg, ld, k0, len, d);
      __syncthreads();
      for (int idx = tid; idx < B * B; idx += kThreads) {
        const int i = idx / B, j = idx % B;
        sS[idx] = k0 + j < len ? dot_rows<LD>(sQ + i * LD, sK + j * LD, d) * a.scale : -INFINITY;
      }
      __syncthreads();
      if (tid < B) {  // row statistics; key j = 0 of the tile is always valid, so mx is finite
        const int i = tid;
        float mx = sM[i];
        for (int j = 0; j < B; ++j) mx = fmaxf(mx, sS[i * B + j]);
        const float corr = expf(sM[i] - mx);  // 0 on the first tile (exp(-inf))
        float sum = 0.0f;
        const bool row_ok = q0 + i < len;
        for (int j = 0; j < B; ++j) {
          float p = expf(sS[i * B + j] - mx);  // 0 for keys past len
          sum += p;
          if (a.drop.active && row_ok && k0 + j < len) {
            p *= prob_factor(a.drop, h, T, start + q0 + i, start + k0 + j);
          }
          sS[i * B + j] = p;
        }
        sL[i] = sL[i] * corr + sum;
        sM[i] = mx;
        sC[i] = corr;
      }
      __syncthreads();
      for (int idx = tid; idx < B * d; idx += kThreads) {
        const int i = idx / d, c = idx % d;
        float acc = sO[i * LD + c] * sC[i];
        for (int j = 0; j < B; ++j) acc += sS[i * B + j] * sV[j * LD + c];
        sO[i * LD + c] = acc;
      }
      __syncthreads();  // before the next key tile overwrites sK, sV, sS
    }
    for (int idx = tid; idx < B * d; idx += kThreads) {
      const int i = idx / d, c = idx % d;
      if (q0 + i < len) {
        out[(start + q0 + i) * a.H + static_cast<int64_t>(h) * d + c] = sO[i * LD + c] / sL[i];
      }
    }
    if (lse && tid < B && q0 + tid < len) {
      lse[static_cast<int64_t>(h) * T + start + q0 + tid] = sM[tid] + logf(sL[tid]);
    }
    __syncthreads();  // before the next query tile overwrites sQ, sO, sM, sL
  }
}

// Loads lse and Delta = dO . O of the B query rows from q0 into sLse, sDelta (0 past len).
// sdO must hold the tile already.
template <int B, int LD>
__device__ __forceinline__ void load_row_stats(float* sLse, float* sDelta, const float* sdO,
                                               const float* lse, const float* out, int64_t start,
                                               int64_t q0, int64_t len, int64_t T, int h, int d,
                                               int64_t H) {
  const int i = threadIdx.x;
  if (i >= B) return;
  float l = 0.0f, delta = 0.0f;
  if (q0 + i < len) {
    const int64_t t = start + q0 + i;
    l = lse[static_cast<int64_t>(h) * T + t];
    const float* o = out + t * H + static_cast<int64_t>(h) * d;
    for (int c = 0; c < d; ++c) delta += sdO[i * LD + c] * o[c];
  }
  sLse[i] = l;
  sDelta[i] = delta;
}

template <int kMaxD>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, AttnArgs a) {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  SIMT_DYNAMIC_SHARED(float, smem);
  float* sQ = smem;          // (B, LD)
  float* sdO = sQ + B * LD;  // (B, LD)
  float* sK = sdO + B * LD;  // (B, LD)
  float* sV = sK + B * LD;   // (B, LD)
  float* sdQ = sV + B * LD;  // (B, LD) accumulator (unscaled)
  float* sS = sdQ + B * LD;  // (B, B) dS
  float* sLse = sS + B * B;  // (B)
  float* sDelta = sLse + B;  // (B)

  const auto [h, start, len, T, ld, hd] = head_slice(a);
  const float* Qg = qkv + start * ld + hd;
  const float* Kg = Qg + a.H;
  const float* Vg = Qg + 2 * a.H;
  const float* dOg = dout + start * a.H + hd;  // (len, d), stride H
  float* dQg = dqkv + start * ld + hd;
  const int d = a.d, tid = threadIdx.x;

  for (int64_t q0 = static_cast<int64_t>(blockIdx.y) * B; q0 < len;
       q0 += static_cast<int64_t>(gridDim.y) * B) {
    load_tile<B, LD>(sQ, Qg, ld, q0, len, d);
    load_tile<B, LD>(sdO, dOg, a.H, q0, len, d);
    zero_tile<B, LD>(sdQ, d);
    __syncthreads();
    load_row_stats<B, LD>(sLse, sDelta, sdO, lse, out, start, q0, len, T, h, d, a.H);
    __syncthreads();
    for (int64_t k0 = 0; k0 < len; k0 += B) {
      load_tile<B, LD>(sK, Kg, ld, k0, len, d);
      load_tile<B, LD>(sV, Vg, ld, k0, len, d);
      __syncthreads();
      for (int idx = tid; idx < B * B; idx += kThreads) {
        const int i = idx / B, j = idx % B;
        float ds = 0.0f;
        if (q0 + i < len && k0 + j < len) {
          const float p = expf(dot_rows<LD>(sQ + i * LD, sK + j * LD, d) * a.scale - sLse[i]);
          const float f = prob_factor(a.drop, h, T, start + q0 + i, start + k0 + j);
          const float dp = dot_rows<LD>(sdO + i * LD, sV + j * LD, d) * f;
          ds = p * (dp - sDelta[i]);
        }
        sS[idx] = ds;
      }
      __syncthreads();
      for (int idx = tid; idx < B * d; idx += kThreads) {
        const int i = idx / d, c = idx % d;
        float acc = sdQ[i * LD + c];
        for (int j = 0; j < B; ++j) acc += sS[i * B + j] * sK[j * LD + c];
        sdQ[i * LD + c] = acc;
      }
      __syncthreads();
    }
    for (int idx = tid; idx < B * d; idx += kThreads) {
      const int i = idx / d, c = idx % d;
      if (q0 + i < len) dQg[(q0 + i) * ld + c] = sdQ[i * LD + c] * a.scale;
    }
    __syncthreads();
  }
}

template <int kMaxD>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_kernel(float* dqkv, const float* dout, const float* qkv, const float* out,
                         const float* lse, AttnArgs a) {
  constexpr int B = Tile<kMaxD>::kRows, LD = Tile<kMaxD>::kLd;
  SIMT_DYNAMIC_SHARED(float, smem);
  float* sK = smem;           // (B, LD) this block's key tile
  float* sV = sK + B * LD;    // (B, LD)
  float* sdK = sV + B * LD;   // (B, LD) accumulator (unscaled)
  float* sdV = sdK + B * LD;  // (B, LD) accumulator
  float* sQ = sdV + B * LD;   // (B, LD) current query tile
  float* sdO = sQ + B * LD;   // (B, LD)
  float* sP = sdO + B * LD;   // (B, B) dropped probabilities P o F, [query][key]
  float* sdS = sP + B * B;    // (B, B) dS, [query][key]
  float* sLse = sdS + B * B;  // (B)
  float* sDelta = sLse + B;   // (B)

  const auto [h, start, len, T, ld, hd] = head_slice(a);
  const float* Qg = qkv + start * ld + hd;
  const float* Kg = Qg + a.H;
  const float* Vg = Qg + 2 * a.H;
  const float* dOg = dout + start * a.H + hd;
  float* dKg = dqkv + start * ld + a.H + hd;
  float* dVg = dKg + a.H;
  const int d = a.d, tid = threadIdx.x;

  for (int64_t k0 = static_cast<int64_t>(blockIdx.y) * B; k0 < len;
       k0 += static_cast<int64_t>(gridDim.y) * B) {
    load_tile<B, LD>(sK, Kg, ld, k0, len, d);
    load_tile<B, LD>(sV, Vg, ld, k0, len, d);
    zero_tile<B, LD>(sdK, d);
    zero_tile<B, LD>(sdV, d);
    for (int64_t q0 = 0; q0 < len; q0 += B) {
      load_tile<B, LD>(sQ, Qg, ld, q0, len, d);
      load_tile<B, LD>(sdO, dOg, a.H, q0, len, d);
      __syncthreads();
      load_row_stats<B, LD>(sLse, sDelta, sdO, lse, out, start, q0, len, T, h, d, a.H);
      __syncthreads();
      for (int idx = tid; idx < B * B; idx += kThreads) {
        const int i = idx / B, j = idx % B;  // query i, key j
        float pd = 0.0f, ds = 0.0f;
        if (q0 + i < len && k0 + j < len) {
          const float p = expf(dot_rows<LD>(sQ + i * LD, sK + j * LD, d) * a.scale - sLse[i]);
          const float f = prob_factor(a.drop, h, T, start + q0 + i, start + k0 + j);
          const float dp = dot_rows<LD>(sdO + i * LD, sV + j * LD, d) * f;
          pd = p * f;
          ds = p * (dp - sDelta[i]);
        }
        sP[idx] = pd;
        sdS[idx] = ds;
      }
      __syncthreads();
      for (int idx = tid; idx < B * d; idx += kThreads) {
        const int j = idx / d, c = idx % d;
        float av = sdV[j * LD + c], ak = sdK[j * LD + c];
        for (int i = 0; i < B; ++i) {
          av += sP[i * B + j] * sdO[i * LD + c];
          ak += sdS[i * B + j] * sQ[i * LD + c];
        }
        sdV[j * LD + c] = av;
        sdK[j * LD + c] = ak;
      }
      __syncthreads();  // before the next query tile overwrites sQ, sdO, sP, sdS
    }
    for (int idx = tid; idx < B * d; idx += kThreads) {
      const int j = idx / d, c = idx % d;
      if (k0 + j < len) {
        dKg[(k0 + j) * ld + c] = sdK[j * LD + c] * a.scale;
        dVg[(k0 + j) * ld + c] = sdV[j * LD + c];
      }
    }
    __syncthreads();  // before the next key tile overwrites sK, sV, sdK, sdV
  }
}

AttnArgs make_args(const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                   const DropoutSpec& dropout) {
  AttnArgs a;
  a.cu_seqlens = cu_seqlens;
  a.nseq = nseq;
  a.heads = static_cast<int>(heads);
  a.d = static_cast<int>(head_dim);
  a.H = heads * head_dim;
  a.scale = 1.0f / sqrtf(static_cast<float>(head_dim));
  a.drop = dropout_key(dropout);
  return a;
}

// Kernels above 48 KiB of dynamic shared memory must opt in.
template <class K>
void set_smem(K kernel, size_t bytes, const char* op) {
  if (bytes > 48 * 1024) {
    SBERT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(bytes)));
  }
  (void)op;
}

template <int kMaxD>
void forward_impl(float* out, float* lse, const float* qkv, const AttnArgs& a, dim3 grid,
                  cudaStream_t stream) {
  const size_t smem = forward_smem<kMaxD>();
  set_smem(attention_forward_kernel<kMaxD>, smem, "attention_forward");
  simt::launch<attention_forward_kernel<kMaxD>>({grid, kThreads, smem, stream}, out, lse, qkv, a);
  SBERT_LAUNCH_CHECK("attention_forward");
}

template <int kMaxD>
void backward_impl(float* dqkv, const float* dout, const float* qkv, const float* out,
                   const float* lse, const AttnArgs& a, dim3 grid, cudaStream_t stream) {
  const size_t smem_q = dq_smem<kMaxD>(), smem_kv = dkv_smem<kMaxD>();
  set_smem(attention_dq_kernel<kMaxD>, smem_q, "attention_backward");
  set_smem(attention_dkv_kernel<kMaxD>, smem_kv, "attention_backward");
  simt::launch<attention_dq_kernel<kMaxD>>({grid, kThreads, smem_q, stream}, dqkv, dout, qkv, out,
                                           lse, a);
  SBERT_LAUNCH_CHECK("attention_backward");
  simt::launch<attention_dkv_kernel<kMaxD>>({grid, kThreads, smem_kv, stream}, dqkv, dout, qkv, out,
                                            lse, a);
  SBERT_LAUNCH_CHECK("attention_backward");
}

dim3 attention_grid(int64_t nseq, int64_t heads, const char* op) {
  return dim3(grid_for(nseq * heads, 1, op), kTileBlocks);
}

void check_sizes(int64_t heads, int64_t head_dim, const char* op) {
  SBERT_CHECK(heads > 0 && head_dim > 0, "[", op, "] heads and head_dim must be positive, got ",
              heads, " and ", head_dim);
  SBERT_CHECK(head_dim <= 128, "[", op, "] head_dim ", head_dim,
              " is not supported on CUDA (at most 128)");
}

}  // namespace

static void attention_forward_impl(float* out, float* lse, const float* qkv,
                                   const int64_t* cu_seqlens, int64_t nseq, int64_t heads,
                                   int64_t head_dim, const DropoutSpec& dropout, Runtime& rt) {
  const char* op = "attention_forward";
  check_sizes(heads, head_dim, op);
  if (nseq == 0) return;
  const AttnArgs a = make_args(cu_seqlens, nseq, heads, head_dim, dropout);
  const dim3 grid = attention_grid(nseq, heads, op);
  if (head_dim <= 32) {
    forward_impl<32>(out, lse, qkv, a, grid, stream_of(rt));
  } else if (head_dim <= 64) {
    forward_impl<64>(out, lse, qkv, a, grid, stream_of(rt));
  } else {
    forward_impl<128>(out, lse, qkv, a, grid, stream_of(rt));
  }
}

static void attention_backward_impl(float* dqkv, const float* dout, const float* qkv,
                                    const float* out, const float* lse, const int64_t* cu_seqlens,
                                    int64_t nseq, int64_t heads, int64_t head_dim,
                                    const DropoutSpec& dropout, Runtime& rt) {
  const char* op = "attention_backward";
  check_sizes(heads, head_dim, op);
  SBERT_CHECK(lse, "[", op, "] lse (saved by the forward) is null");
  if (nseq == 0) return;
  const AttnArgs a = make_args(cu_seqlens, nseq, heads, head_dim, dropout);
  const dim3 grid = attention_grid(nseq, heads, op);
  if (head_dim <= 32) {
    backward_impl<32>(dqkv, dout, qkv, out, lse, a, grid, stream_of(rt));
  } else if (head_dim <= 64) {
    backward_impl<64>(dqkv, dout, qkv, out, lse, a, grid, stream_of(rt));
  } else {
    backward_impl<128>(dqkv, dout, qkv, out, lse, a, grid, stream_of(rt));
  }
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void attention_forward(const AttentionForwardArgs<float>& a, Runtime& rt) {
  attention_forward_impl(a.out, a.lse, a.qkv, a.cu_seqlens, a.nseq, a.heads, a.head_dim, a.dropout,
                         rt);
}
void attention_backward(const AttentionBackwardArgs<float>& a, Runtime& rt) {
  attention_backward_impl(a.dqkv, a.dout, a.qkv, a.out, a.lse, a.cu_seqlens, a.nseq, a.heads,
                          a.head_dim, a.dropout, rt);
}

}  // namespace sbert::cuda
