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
void embedding_forward(T* out, const int32_t* ids, const int32_t* pos_ids,
                       const int64_t* cu_seqlens, int64_t nseq, const T* word, const T* pos,
                       const T* type, int64_t C) {
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
void embedding_backward(T* dword, T* dpos, T* dtype, const T* dout, const int32_t* ids,
                        const int32_t* pos_ids, const int64_t* cu_seqlens, int64_t nseq, int64_t C,
                        int32_t pad_id, int32_t pos_pad) {
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

#define SBERT_INSTANTIATE(T)                                                                  \
  template void embedding_forward<T>(T*, const int32_t*, const int32_t*, const int64_t*,      \
                                     int64_t, const T*, const T*, const T*, int64_t);         \
  template void embedding_backward<T>(T*, T*, T*, const T*, const int32_t*, const int32_t*,   \
                                      const int64_t*, int64_t, int64_t, int32_t, int32_t);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert::cpu
