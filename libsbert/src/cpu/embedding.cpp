// Input embeddings: word + absolute position + token type 0. Each token carries its position
// id (nn/encoder computes them: BERT 0, 1, ... per sequence; RoBERTa pad_token_id + 1, ...).
//   backward: dword[id_t] += dout_t (except id_t == pad_id), dpos[pos_t] += dout_t (except
//             pos_t == pos_pad), dtype[0] += sum_t dout_t
#include <algorithm>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {
constexpr int64_t kColBlock = 32;  // columns per task of the backward
}  // namespace

template <class T>
static void embedding_forward_impl(T* out, const int32_t* ids, const int32_t* pos_ids,
                                   const int64_t* cu_seqlens, int64_t nseq, const T* word,
                                   const T* pos, const T* type, int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    for (int64_t t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
      const T* w = word + static_cast<int64_t>(ids[t]) * C;
      const T* p = pos + static_cast<int64_t>(pos_ids[t]) * C;
      T* o = out + t * C;
      // Same association as PyTorch: (word + type) + position.
      for (int64_t j = 0; j < C; ++j) o[j] = (w[j] + type[j]) + p[j];
    }
  }
}

template <class T>
static void embedding_backward_impl(T* dword, T* dpos, T* dtype, const T* dout, const int32_t* ids,
                                    const int32_t* pos_ids, const int64_t* cu_seqlens, int64_t nseq,
                                    int64_t C, int32_t pad_id, int32_t pos_pad) {
  // Parallel over blocks of columns: each task owns a slice of every gradient row, so rows
  // that repeat (the same id twice, the same position in two sequences) are summed in token
  // order without atomics: the same bits for any thread count.
  const int64_t blocks = (C + kColBlock - 1) / kColBlock;
  const int64_t T_ = cu_seqlens[nseq];
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kColBlock, j1 = std::min(C, j0 + kColBlock);
    double st[kColBlock] = {};
    for (int64_t t = cu_seqlens[0]; t < T_; ++t) {
      const T* g = dout + t * C;
      for (int64_t j = j0; j < j1; ++j) st[j - j0] += static_cast<double>(g[j]);
      if (pos_ids[t] != pos_pad) {
        T* dp = dpos + static_cast<int64_t>(pos_ids[t]) * C;
        for (int64_t j = j0; j < j1; ++j) dp[j] += g[j];
      }
      if (ids[t] != pad_id) {
        T* dw = dword + static_cast<int64_t>(ids[t]) * C;
        for (int64_t j = j0; j < j1; ++j) dw[j] += g[j];
      }
    }
    for (int64_t j = j0; j < j1; ++j) dtype[j] += static_cast<T>(st[j - j0]);
  }
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                                          \
  void embedding_forward(const EmbeddingForwardArgs<T>& a) {                                     \
    embedding_forward_impl(a.out, a.ids, a.pos_ids, a.cu_seqlens, a.nseq, a.word, a.pos, a.type, \
                           a.C);                                                                 \
  }                                                                                              \
  void embedding_backward(const EmbeddingBackwardArgs<T>& a) {                                   \
    embedding_backward_impl(a.dword, a.dpos, a.dtype, a.dout, a.ids, a.pos_ids, a.cu_seqlens,    \
                            a.nseq, a.C, a.pad_id, a.pos_pad);                                   \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
