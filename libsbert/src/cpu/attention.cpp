// Scaled dot-product attention on packed sequences, one (sequence, head) pair per task.
// Forward saves only the log-sum-exp of each score row; backward recomputes the
// probabilities from Q, K and it (and the dropout mask from its spec), as the flash-attention
// kernels do on the GPU. Per (sequence, head), with scale = 1 / sqrt(D):
//   S = scale Q K^T,  P = softmax_rows(S) = exp(S - lse),  Pd = P o M / (1 - p),  O = Pd V
//   dV = Pd^T dO,  dPd = dO V^T,  dP = dPd o M / (1 - p),
//   Delta_i = sum_j P_ij dP_ij = rowsum(dO o O)_i,  dS = P o (dP - Delta),
//   dQ = scale dS K,  dK = scale dS^T Q
#include <Eigen/Core>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
template <class T>
using ConstView = Eigen::Map<const RowMat<T>, 0, Strided>;
template <class T>
using View = Eigen::Map<RowMat<T>, 0, Strided>;

// Multiplies row i of P (len, len) by the dropout factors of query token start + i.
template <class T>
void apply_dropout_rows(RowMat<T>& P, const DropoutSpec& spec, int64_t h, int64_t start,
                        int64_t T_tokens) {
  const int64_t len = P.rows();
  std::vector<T> factor(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i) {
    const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(T_tokens) +
                            static_cast<uint64_t>(start + i)) *
                               static_cast<uint64_t>(T_tokens) +
                           static_cast<uint64_t>(start);
    dropout_factors(factor.data(), spec, first, len);
    for (int64_t j = 0; j < len; ++j) P(i, j) *= factor[static_cast<size_t>(j)];
  }
}

}  // namespace

template <class T>
void attention_forward(T* out, T* lse, const T* qkv, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t heads, int64_t head_dim, const DropoutSpec& dropout) {
  const int64_t H = heads * head_dim;
  const int64_t Ttok = cu_seqlens[nseq];
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < nseq * heads; ++task) {
    const int64_t s = task / heads, h = task % heads;
    const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
    if (len == 0) continue;
    const T* base = qkv + start * 3 * H + h * head_dim;
    ConstView<T> Q(base, len, head_dim, Strided(3 * H));          // (len, D)
    ConstView<T> K(base + H, len, head_dim, Strided(3 * H));      // (len, D)
    ConstView<T> V(base + 2 * H, len, head_dim, Strided(3 * H));  // (len, D)
    RowMat<T> P = (Q * K.transpose()) * scale;                    // (len, len) scores
    for (int64_t i = 0; i < len; ++i) {
      const T m = P.row(i).maxCoeff();
      P.row(i) = (P.row(i).array() - m).exp();
      const T sum = P.row(i).sum();
      P.row(i) /= sum;
      if (lse) lse[h * Ttok + start + i] = m + std::log(sum);
    }
    if (dropout.active()) apply_dropout_rows(P, dropout, h, start, Ttok);
    View<T> O(out + start * H + h * head_dim, len, head_dim, Strided(H));
    O.noalias() = P * V;
  }
}

template <class T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse,
                        const int64_t* cu_seqlens, int64_t nseq, int64_t heads, int64_t head_dim,
                        const DropoutSpec& dropout) {
  const int64_t H = heads * head_dim;
  const int64_t Ttok = cu_seqlens[nseq];
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < nseq * heads; ++task) {
    const int64_t s = task / heads, h = task % heads;
    const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
    if (len == 0) continue;
    const T* base = qkv + start * 3 * H + h * head_dim;
    ConstView<T> Q(base, len, head_dim, Strided(3 * H));
    ConstView<T> K(base + H, len, head_dim, Strided(3 * H));
    ConstView<T> V(base + 2 * H, len, head_dim, Strided(3 * H));
    ConstView<T> O(out + start * H + h * head_dim, len, head_dim, Strided(H));
    ConstView<T> dO(dout + start * H + h * head_dim, len, head_dim, Strided(H));
    T* dbase = dqkv + start * 3 * H + h * head_dim;
    View<T> dQ(dbase, len, head_dim, Strided(3 * H));
    View<T> dK(dbase + H, len, head_dim, Strided(3 * H));
    View<T> dV(dbase + 2 * H, len, head_dim, Strided(3 * H));

    RowMat<T> P = (Q * K.transpose()) * scale;  // (len, len) scores, then probabilities
    for (int64_t i = 0; i < len; ++i) {
      P.row(i) = (P.row(i).array() - lse[h * Ttok + start + i]).exp();
    }
    RowMat<T> dP = dO * V.transpose();  // (len, len) gradient of the dropped probabilities
    if (dropout.active()) {
      RowMat<T> F = RowMat<T>::Ones(len, len);  // the mask factors, 0 or 1 / (1 - p)
      apply_dropout_rows(F, dropout, h, start, Ttok);
      dV.noalias() = P.cwiseProduct(F).transpose() * dO;
      dP.array() *= F.array();
    } else {
      dV.noalias() = P.transpose() * dO;
    }
    const Eigen::Matrix<T, Eigen::Dynamic, 1> delta = dO.cwiseProduct(O).rowwise().sum();
    dP.colwise() -= delta;
    dP.array() *= P.array();  // dS
    dQ.noalias() = (dP * K) * scale;
    dK.noalias() = (dP.transpose() * Q) * scale;
  }
}

#define SBERT_INSTANTIATE(T)                                                                      \
  template void attention_forward<T>(T*, T*, const T*, const int64_t*, int64_t, int64_t, int64_t, \
                                     const DropoutSpec&);                                         \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const T*, const int64_t*, \
                                      int64_t, int64_t, int64_t, const DropoutSpec&);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert::cpu
