// Scaled dot-product attention on packed sequences, one (sequence, head) pair per task.
// Forward saves only the log-sum-exp of each score row; backward recomputes the
// probabilities from Q, K and it (and the dropout mask from its spec), as the flash-attention
// kernels do on the GPU. Per (sequence, head), with scale = 1 / sqrt(D):
//   S = scale Q K^T,  P = softmax_rows(S) = exp(S - lse),  Pd = P o M / (1 - p),  O = Pd V
//   dV = Pd^T dO,  dPd = dO V^T,  dP = dPd o M / (1 - p),
//   Delta_i = sum_j P_ij dP_ij = rowsum(dO o O)_i,  dS = P o (dP - Delta),
//   dQ = scale dS K,  dK = scale dS^T Q
// The products are single-threaded OpenBLAS calls inside the task loop (cpu/gemm.h): OpenBLAS
// picks AVX2 / FMA kernels at run time, which a portable build of Eigen cannot. The float
// forward on AVX-512 with a head dim that is a multiple of 16 (<= 128) runs its two products on
// cpu/attention_avx512.h's kernels instead, without OpenBLAS's packing. The work
// matrices live per thread and are reused across tasks. The forward takes the query rows in
// blocks of kQueryRows, so its memory is (kQueryRows, len) per thread, linear in the sequence
// length (a 4,096-token sequence: 4 MB a thread, not 64 MB); the backward's are (len, len).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu/attention_avx512.h"
#include "cpu/fast_math.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/simd.h"

namespace sbert::cpu {

namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatView = Eigen::Map<RowMat<T>>;  // (len, len) view of a per-thread buffer

constexpr int64_t kQueryRows = 256;  // query rows per block of the forward

// The dropout factors (0 or 1 / (1 - p)) of rows row0 .. row0 + rows - 1 of the (len, len)
// probabilities of head h of the sequence starting at token `start`; row i belongs to query
// token start + i.
template <class T>
void dropout_rows(T* F, const DropoutSpec& spec, int64_t h, int64_t start, int64_t row0,
                  int64_t rows, int64_t len, int64_t T_tokens) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = row0 + r;
    const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(T_tokens) +
                            static_cast<uint64_t>(start + i)) *
                               static_cast<uint64_t>(T_tokens) +
                           static_cast<uint64_t>(start);
    dropout_factors(F + r * len, spec, first, len);
  }
}

inline float exp_of(float x) { return exp_poly(x); }
inline double exp_of(double x) { return std::exp(x); }

// row[j] = exp(row[j] - shift), one vectorized pass (float: cpu/fast_math.h).
template <class T>
SBERT_SIMD_INLINE void exp_shifted(T* row, int64_t n, T shift) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) row[j] = exp_of(row[j] - shift);
}

// row[j] = exp(row[j] - max_j row[j]) in place; returns the sum of the new row and writes the
// max. Sixteen fixed partial sums (cpu/simd.h): one AVX-512 vector or two AVX2 ones, the same
// bits for any vector width.
template <class T>
SBERT_SIMD_INLINE T exp_row(T* row, int64_t n, T* max_out) {
  T m = row[0];
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; ++j) m = row[j] > m ? row[j] : m;
  constexpr int kLanes = 16;
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const T e = exp_of(row[j + l] - m);
      row[j + l] = e;
      acc[l] += e;
    }
  }
  for (int l = 0; j < n; ++j, ++l) {
    const T e = exp_of(row[j] - m);
    row[j] = e;
    acc[l] += e;
  }
  *max_out = m;
  for (int w = kLanes / 2; w > 0; w /= 2) {  // pairwise: lane l + lane l + w
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  }
  return acc[0];
}
SBERT_SIMD_CLONES float exp_row_any(float* row, int64_t n, float* max_out) {
  return exp_row(row, n, max_out);
}
SBERT_SIMD_CLONES void exp_shifted_any(float* row, int64_t n, float shift) {
  exp_shifted(row, n, shift);
}
double exp_row_any(double* row, int64_t n, double* max_out) { return exp_row(row, n, max_out); }
void exp_shifted_any(double* row, int64_t n, double shift) { exp_shifted(row, n, shift); }

template <class T>
void resize(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace

template <class T>
static void attention_forward_impl(T* out, T* lse, const T* qkv, const int64_t* cu_seqlens,
                                   int64_t nseq, int64_t heads, int64_t head_dim,
                                   const DropoutSpec& dropout) {
  const int64_t H = heads * head_dim, D = head_dim, ld = 3 * H;
  const int64_t Ttok = cu_seqlens[nseq];
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
  // float on AVX-512 with a head dim it takes: the products without OpenBLAS's packing
  // (cpu/attention_avx512.h).
  const bool avx512 = std::is_same_v<T, float> && attention_avx512_usable(D);
#pragma omp parallel
  {
    std::vector<T> sbuf, fbuf, inv;  // (len, len) exp(scores) and dropout factors; (len) 1/sum
    std::vector<float> kt;           // (D, len rounded up to 16) K^T for the AVX-512 scores
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < nseq * heads; ++task) {
      const int64_t s = task / heads, h = task % heads;
      const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
      if (len == 0) continue;
      const T* Q = qkv + start * ld + h * D;  // (len, D), row stride 3H
      const T* K = Q + H;
      const T* V = Q + 2 * H;
      T* O = out + start * H + h * D;  // (len, D), row stride H
      const int64_t block = std::min(len, kQueryRows);
      resize(sbuf, block * len);
      resize(inv, block);
      const int64_t ldkt = (len + 15) / 16 * 16;
      if constexpr (std::is_same_v<T, float>) {
        if (avx512) {
          resize(kt, D * ldkt);
          pack_keys_t(kt.data(), ldkt, K, ld, len, D);
        }
      }
      // Query rows [i0, i0 + rows): every key at once, so each row's softmax is exact.
      for (int64_t i0 = 0; i0 < len; i0 += block) {
        const int64_t rows = std::min(block, len - i0);
        MatView<T> P(sbuf.data(), rows, len);
        bool done = false;
        if constexpr (std::is_same_v<T, float>) {
          if (avx512) {
            attention_scores_avx512(P.data(), len, Q + i0 * ld, ld, kt.data(), ldkt, rows, len, D,
                                    scale);
            done = true;
          }
        }
        if (!done) {
          gemm(false, true, rows, len, D, scale, Q + i0 * ld, ld, K, ld, T(0), P.data(),
               len);  // scores
        }
        for (int64_t i = 0; i < rows; ++i) {
          T m;
          const T sum = exp_row_any(P.data() + i * len, len, &m);
          inv[static_cast<size_t>(i)] = T(1) / sum;
          if (lse) lse[h * Ttok + start + i0 + i] = m + std::log(sum);
        }
        if (dropout.active()) {
          resize(fbuf, block * len);
          dropout_rows(fbuf.data(), dropout, h, start, i0, rows, len, Ttok);
          P.array() *= MatView<T>(fbuf.data(), rows, len).array();
        }
        // O = softmax(S) V, normalized after the product (as flash attention does): the
        // (rows, D) output is scaled instead of the (rows, len) probabilities.
        T* Ob = O + i0 * H;
        if constexpr (std::is_same_v<T, float>) {
          if (avx512) {
            attention_pv_avx512(Ob, H, P.data(), len, V, ld, inv.data(), rows, len, D);
            continue;
          }
        }
        gemm(false, false, rows, D, len, T(1), P.data(), len, V, ld, T(0), Ob, H);
        for (int64_t i = 0; i < rows; ++i) {
          const T f = inv[static_cast<size_t>(i)];
          for (int64_t j = 0; j < D; ++j) Ob[i * H + j] *= f;
        }
      }
    }
  }
}

template <class T>
static void attention_backward_impl(T* dqkv, const T* dout, const T* qkv, const T* out,
                                    const T* lse, const int64_t* cu_seqlens, int64_t nseq,
                                    int64_t heads, int64_t head_dim, const DropoutSpec& dropout) {
  const int64_t H = heads * head_dim, D = head_dim, ld = 3 * H;
  const int64_t Ttok = cu_seqlens[nseq];
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
#pragma omp parallel
  {
    std::vector<T> pbuf, dpbuf, fbuf, delta;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < nseq * heads; ++task) {
      const int64_t s = task / heads, h = task % heads;
      const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
      if (len == 0) continue;
      const T* Q = qkv + start * ld + h * D;  // (len, D), row stride 3H
      const T* K = Q + H;
      const T* V = Q + 2 * H;
      const T* O = out + start * H + h * D;  // (len, D), row stride H
      const T* dO = dout + start * H + h * D;
      T* dQ = dqkv + start * ld + h * D;
      T* dK = dQ + H;
      T* dV = dQ + 2 * H;
      resize(pbuf, len * len);
      resize(dpbuf, len * len);
      MatView<T> P(pbuf.data(), len, len);    // scores, then probabilities
      MatView<T> dP(dpbuf.data(), len, len);  // gradient of the dropped probabilities, then dS
      gemm(false, true, len, len, D, scale, Q, ld, K, ld, T(0), P.data(), len);
      for (int64_t i = 0; i < len; ++i)
        exp_shifted_any(P.data() + i * len, len, lse[h * Ttok + start + i]);
      gemm(false, true, len, len, D, T(1), dO, H, V, ld, T(0), dP.data(), len);
      if (dropout.active()) {
        resize(fbuf, len * len);
        MatView<T> F(fbuf.data(), len, len);
        dropout_rows(F.data(), dropout, h, start, 0, len, len, Ttok);
        dP.array() *= F.array();
        F.array() *= P.array();  // Pd = P o F
        gemm(true, false, len, D, len, T(1), F.data(), len, dO, H, T(0), dV, ld);
      } else {
        gemm(true, false, len, D, len, T(1), P.data(), len, dO, H, T(0), dV, ld);
      }
      resize(delta, len);
      for (int64_t i = 0; i < len; ++i) {
        T acc = 0;
        for (int64_t j = 0; j < D; ++j) acc += dO[i * H + j] * O[i * H + j];
        delta[static_cast<size_t>(i)] = acc;
      }
      for (int64_t i = 0; i < len; ++i) {
        dP.row(i) = (dP.row(i).array() - delta[static_cast<size_t>(i)]) * P.row(i).array();  // dS
      }
      gemm(false, false, len, D, len, scale, dP.data(), len, K, ld, T(0), dQ, ld);
      gemm(true, false, len, D, len, scale, dP.data(), len, Q, ld, T(0), dK, ld);
    }
  }
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                                         \
  void attention_forward(const AttentionForwardArgs<T>& a) {                                    \
    attention_forward_impl(a.out, a.lse, a.qkv, a.cu_seqlens, a.nseq, a.heads, a.head_dim,      \
                           a.dropout);                                                          \
  }                                                                                             \
  void attention_backward(const AttentionBackwardArgs<T>& a) {                                  \
    attention_backward_impl(a.dqkv, a.dout, a.qkv, a.out, a.lse, a.cu_seqlens, a.nseq, a.heads, \
                            a.head_dim, a.dropout);                                             \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
