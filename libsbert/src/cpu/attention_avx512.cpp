// cpu/attention_avx512.h. Register tiles: the scores take 4 query rows x 64 keys (16 zmm
// accumulators over the head dim, the keys read from their packed transpose); P V takes MR rows
// x the whole head dim (D / 16 zmm a row, MR = 16 / (D / 16) rows: about 16 accumulators) over the
// keys, V read in place; at most 8 rows). The accumulators are named by fully unrolled loops over template
// sizes, which GCC keeps in registers.
#include "cpu/attention_avx512.h"

#include <algorithm>

#include "core/check.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SBERT_ATTN_AVX512 1
#else
#define SBERT_ATTN_AVX512 0
#endif

namespace sbert::cpu {

// Key by key: each K row is read once, and the D rows of kt written at column j stay in L1.
void pack_keys_t(float* kt, int64_t ldkt, const float* K, int64_t ldk, int64_t len, int64_t D) {
  for (int64_t j = 0; j < len; ++j) {
    const float* k = K + j * ldk;
    for (int64_t d = 0; d < D; ++d) kt[d * ldkt + j] = k[d];
  }
  for (int64_t d = 0; d < D; ++d) std::fill(kt + d * ldkt + len, kt + (d + 1) * ldkt, 0.0f);
}

#if SBERT_ATTN_AVX512

bool attention_avx512_usable(int64_t head_dim) {
  __builtin_cpu_init();
  return head_dim % 16 == 0 && head_dim >= 16 && head_dim <= 128 &&
         __builtin_cpu_supports("avx512f");
}

namespace {

// MR query rows x NC chunks of 16 keys; `cols` (<= 16 NC) of them are stored.
template <int MR, int NC>
[[gnu::target("avx512f")]] void scores_tile(float* S, int64_t lds, const float* Q, int64_t ldq,
                                            const float* kt, int64_t ldkt, int64_t D, float scale,
                                            int64_t cols) {
  __m512 acc[MR][NC];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[i][c] = _mm512_setzero_ps();
  }
  for (int64_t d = 0; d < D; ++d) {
    __m512 k[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) k[c] = _mm512_loadu_ps(kt + d * ldkt + 16 * c);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m512 q = _mm512_set1_ps(Q[i * ldq + d]);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[i][c] = _mm512_fmadd_ps(q, k[c], acc[i][c]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) {
    const int64_t left = cols - 16 * c;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      _mm512_mask_storeu_ps(S + i * lds + 16 * c, m, _mm512_mul_ps(acc[i][c], s));
    }
  }
}

template <int NC>
void scores_columns(float* S, int64_t lds, const float* Q, int64_t ldq, const float* kt,
                    int64_t ldkt, int64_t rows, int64_t D, float scale, int64_t cols) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    scores_tile<4, NC>(S + i * lds, lds, Q + i * ldq, ldq, kt, ldkt, D, scale, cols);
  }
  for (; i < rows; ++i) {
    scores_tile<1, NC>(S + i * lds, lds, Q + i * ldq, ldq, kt, ldkt, D, scale, cols);
  }
}

// MR rows x DC chunks of 16 of the head dim, over all len keys.
template <int MR, int DC>
[[gnu::target("avx512f")]] void pv_tile(float* O, int64_t ldo, const float* P, int64_t ldp,
                                        const float* V, int64_t ldv, const float* inv,
                                        int64_t len) {
  __m512 acc[MR][DC];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) acc[i][c] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < len; ++j) {
    __m512 v[DC];
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) v[c] = _mm512_loadu_ps(V + j * ldv + 16 * c);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 p = _mm512_set1_ps(P[i * ldp + j]);
#pragma GCC unroll 8
      for (int c = 0; c < DC; ++c) acc[i][c] = _mm512_fmadd_ps(p, v[c], acc[i][c]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m512 f = _mm512_set1_ps(inv[i]);
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) _mm512_storeu_ps(O + i * ldo + 16 * c, _mm512_mul_ps(acc[i][c], f));
  }
}

template <int DC>
void pv_rows(float* O, int64_t ldo, const float* P, int64_t ldp, const float* V, int64_t ldv,
             const float* inv, int64_t rows, int64_t len) {
  constexpr int kMR = std::min(8, std::max(1, 16 / DC));  // about 16 accumulators
  int64_t i = 0;
  for (; i + kMR <= rows; i += kMR) {
    pv_tile<kMR, DC>(O + i * ldo, ldo, P + i * ldp, ldp, V, ldv, inv + i, len);
  }
  for (; i < rows; ++i) pv_tile<1, DC>(O + i * ldo, ldo, P + i * ldp, ldp, V, ldv, inv + i, len);
}

}  // namespace

void attention_scores_avx512(float* S, int64_t lds, const float* Q, int64_t ldq, const float* kt,
                             int64_t ldkt, int64_t rows, int64_t len, int64_t D, float scale) {
  for (int64_t j0 = 0; j0 < len; j0 += 64) {
    const int64_t cols = std::min<int64_t>(64, len - j0);
    const float* k = kt + j0;
    float* s = S + j0;
    switch ((cols + 15) / 16) {
      case 4:
        scores_columns<4>(s, lds, Q, ldq, k, ldkt, rows, D, scale, cols);
        break;
      case 3:
        scores_columns<3>(s, lds, Q, ldq, k, ldkt, rows, D, scale, cols);
        break;
      case 2:
        scores_columns<2>(s, lds, Q, ldq, k, ldkt, rows, D, scale, cols);
        break;
      default:
        scores_columns<1>(s, lds, Q, ldq, k, ldkt, rows, D, scale, cols);
        break;
    }
  }
}

void attention_pv_avx512(float* O, int64_t ldo, const float* P, int64_t ldp, const float* V,
                         int64_t ldv, const float* inv, int64_t rows, int64_t len, int64_t D) {
  switch (D / 16) {
    case 1:
      return pv_rows<1>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 2:
      return pv_rows<2>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 3:
      return pv_rows<3>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 4:
      return pv_rows<4>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 5:
      return pv_rows<5>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 6:
      return pv_rows<6>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 7:
      return pv_rows<7>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    case 8:
      return pv_rows<8>(O, ldo, P, ldp, V, ldv, inv, rows, len);
    default:
      fail("[attention_forward] the AVX-512 kernels take head dims 16 .. 128 in steps of 16, got ",
           D);
  }
}

#else  // not x86-64 GCC / Clang

bool attention_avx512_usable(int64_t) { return false; }
void attention_scores_avx512(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t,
                             int64_t, int64_t, float) {
  fail("[attention_forward] this build has no AVX-512 attention kernels");
}
void attention_pv_avx512(float*, int64_t, const float*, int64_t, const float*, int64_t,
                         const float*, int64_t, int64_t, int64_t) {
  fail("[attention_forward] this build has no AVX-512 attention kernels");
}

#endif

}  // namespace sbert::cpu
