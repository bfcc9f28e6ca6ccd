// Input embeddings (word + position id + type 0), the twin of cpu/embedding.cpp. Backward
// without atomics: every gradient element is owned by one thread, which adds its tokens in
// token order, so dword and dpos get the CPU's bits; dtype is a double column sum (common.cuh).
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kTokenSplit = 8;  // blocks per sequence of the forward (grid y)
constexpr int kThreads = 256;
constexpr int kRowParts = 64;  // dword / dpos: row partitions (row % kRowParts), one warp each
constexpr int kPartWarps = 8;  // warps per block of the backward kernels

__global__ void embedding_forward_kernel(float* out, const int32_t* ids, const int32_t* pos_ids,
                                         const int64_t* cu_seqlens, const float* word,
                                         const float* pos, const float* type, int64_t C) {
  const int64_t s = blockIdx.x;
  const int64_t start = cu_seqlens[s], end = cu_seqlens[s + 1];
  for (int64_t t = start + blockIdx.y; t < end; t += gridDim.y) {
    const float* w = word + static_cast<int64_t>(ids[t]) * C;
    const float* p = pos + static_cast<int64_t>(pos_ids[t]) * C;
    float* o = out + t * C;
    // Same association as PyTorch: (word + type) + position.
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) o[j] = (w[j] + type[j]) + p[j];
  }
}

// dtable[rows[t]] += dout[t] for every token t with rows[t] != skip (dword: rows = ids;
// dpos: rows = position ids). Block (32 columns, kPartWarps partitions). Thread (j, part) owns
// the columns j of every row r with r % kRowParts == part, and walks all T tokens in order
// (= the CPU's order). The row test is uniform across a warp (same token): no divergence.
__global__ void embedding_rows_kernel(float* dtable, const float* dout, const int32_t* rows,
                                      const int64_t* cu_seqlens, int64_t nseq, int64_t C,
                                      int32_t skip) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarp + threadIdx.x;
  const uint32_t part = blockIdx.y * kPartWarps + threadIdx.y;
  if (j >= C) return;
  const int64_t T = cu_seqlens[nseq];
  for (int64_t t = 0; t < T; ++t) {
    const int32_t r = rows[t];
    if (r == skip || static_cast<uint32_t>(r) % kRowParts != part) continue;
    dtable[static_cast<int64_t>(r) * C + j] += dout[t * C + j];
  }
}

struct TokenColumn {
  const float* dout;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t j, double (&acc)[1]) const {
    acc[0] += static_cast<double>(dout[r * C + j]);
  }
};

}  // namespace

static void embedding_forward_impl(float* out, const int32_t* ids, const int32_t* pos_ids,
                                   const int64_t* cu_seqlens, int64_t nseq, const float* word,
                                   const float* pos, const float* type, int64_t C, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const dim3 grid(grid_for(nseq, 1, "embedding_forward"), kTokenSplit);
  simt::launch<embedding_forward_kernel>({grid, kThreads, 0, stream_of(rt)}, out, ids, pos_ids,
                                         cu_seqlens, word, pos, type, C);
  SBERT_LAUNCH_CHECK("embedding_forward");
}

static void embedding_backward_impl(float* dword, float* dpos, float* dtype, const float* dout,
                                    const int32_t* ids, const int32_t* pos_ids,
                                    const int64_t* cu_seqlens, int64_t nseq, int64_t C,
                                    int32_t pad_id, int32_t pos_pad, Runtime& rt) {
  if (nseq == 0 || C == 0) return;
  const char* op = "embedding_backward";
  const dim3 block(kWarp, kPartWarps);
  const dim3 grid(grid_for(C, kWarp, op), kRowParts / kPartWarps);
  simt::launch<embedding_rows_kernel>({grid, block, 0, stream_of(rt)}, dword, dout, ids, cu_seqlens,
                                      nseq, C, pad_id);
  SBERT_LAUNCH_CHECK(op);
  simt::launch<embedding_rows_kernel>({grid, block, 0, stream_of(rt)}, dpos, dout, pos_ids,
                                      cu_seqlens, nseq, C, pos_pad);
  SBERT_LAUNCH_CHECK(op);
  // dtype[0] += sum over the T tokens (T read on the device: cu_seqlens[nseq]).
  launch_column_sums<1>(ColumnOut<1>{{dtype}}, TokenColumn{dout, C}, 0, cu_seqlens + nseq, C,
                        stream_of(rt), op);
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void embedding_forward(const EmbeddingForwardArgs<float>& a, Runtime& rt) {
  embedding_forward_impl(a.out, a.ids, a.pos_ids, a.cu_seqlens, a.nseq, a.word, a.pos, a.type, a.C,
                         rt);
}
void embedding_backward(const EmbeddingBackwardArgs<float>& a, Runtime& rt) {
  embedding_backward_impl(a.dword, a.dpos, a.dtype, a.dout, a.ids, a.pos_ids, a.cu_seqlens, a.nseq,
                          a.C, a.pad_id, a.pos_pad, rt);
}

}  // namespace sbert::cuda
