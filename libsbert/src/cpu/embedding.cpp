// BERT input embeddings: word + absolute position (restarting per sequence) + token type 0.
#include "cpu/kernels.h"

namespace sbert::cpu {

void embedding_forward(float* out, const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq,
                       const float* word, const float* pos, const float* type, int64_t C) {
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < nseq; ++s) {
    for (int64_t t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
      const float* w = word + static_cast<int64_t>(ids[t]) * C;
      const float* p = pos + (t - cu_seqlens[s]) * C;
      float* o = out + t * C;
      // Same association as PyTorch: (word + type) + position.
      for (int64_t j = 0; j < C; ++j) o[j] = (w[j] + type[j]) + p[j];
    }
  }
}

void embedding_backward(float* dword, float* dpos, float* dtype, const float* dout,
                        const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq, int64_t C) {
  // Parallel over columns: each thread owns a slice of every gradient row, so rows that
  // repeat (the same id twice) are summed in token order without atomics: deterministic.
  const int64_t T = cu_seqlens[nseq];
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t j = 0; j < C; ++j) {
      double st = 0.0;
      for (int64_t s = 0; s < nseq; ++s) {
        for (int64_t t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
          const float g = dout[t * C + j];
          dword[static_cast<int64_t>(ids[t]) * C + j] += g;
          dpos[(t - cu_seqlens[s]) * C + j] += g;
          st += static_cast<double>(g);
        }
      }
      dtype[j] += static_cast<float>(st);
    }
  }
  (void)T;
}

}  // namespace sbert::cpu
