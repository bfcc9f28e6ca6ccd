// Scaled dot-product attention on packed sequences, one (sequence, head) pair per task.
// Forward saves only the log-sum-exp of each score row; backward recomputes the
// probabilities from Q, K and it, as the flash-attention kernels do on the GPU.
#include <Eigen/Core>
#include <cmath>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::OuterStride<>;
using ConstView = Eigen::Map<const RowMat, 0, Strided>;
using View = Eigen::Map<RowMat, 0, Strided>;

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, const int64_t* cu_seqlens,
                       int64_t nseq, int64_t heads, int64_t head_dim) {
  const int64_t H = heads * head_dim;
  const int64_t T = cu_seqlens[nseq];
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < nseq * heads; ++task) {
    const int64_t s = task / heads, h = task % heads;
    const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
    if (len == 0) continue;
    const float* base = qkv + start * 3 * H + h * head_dim;
    ConstView Q(base, len, head_dim, Strided(3 * H));          // (len, D)
    ConstView K(base + H, len, head_dim, Strided(3 * H));      // (len, D)
    ConstView V(base + 2 * H, len, head_dim, Strided(3 * H));  // (len, D)
    RowMat P = (Q * K.transpose()) * scale;                     // (len, len) scores
    for (int64_t i = 0; i < len; ++i) {
      const float m = P.row(i).maxCoeff();
      P.row(i) = (P.row(i).array() - m).exp();
      const float sum = P.row(i).sum();
      P.row(i) /= sum;
      if (lse) lse[h * T + start + i] = m + std::log(sum);
    }
    View O(out + start * H + h * head_dim, len, head_dim, Strided(H));
    O.noalias() = P * V;
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t heads, int64_t head_dim) {
  const int64_t H = heads * head_dim;
  const int64_t T = cu_seqlens[nseq];
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < nseq * heads; ++task) {
    const int64_t s = task / heads, h = task % heads;
    const int64_t start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
    if (len == 0) continue;
    const float* base = qkv + start * 3 * H + h * head_dim;
    ConstView Q(base, len, head_dim, Strided(3 * H));
    ConstView K(base + H, len, head_dim, Strided(3 * H));
    ConstView V(base + 2 * H, len, head_dim, Strided(3 * H));
    ConstView O(out + start * H + h * head_dim, len, head_dim, Strided(H));
    ConstView dO(dout + start * H + h * head_dim, len, head_dim, Strided(H));
    float* dbase = dqkv + start * 3 * H + h * head_dim;
    View dQ(dbase, len, head_dim, Strided(3 * H));
    View dK(dbase + H, len, head_dim, Strided(3 * H));
    View dV(dbase + 2 * H, len, head_dim, Strided(3 * H));

    RowMat P = (Q * K.transpose()) * scale;  // (len, len), then probabilities
    for (int64_t i = 0; i < len; ++i) {
      P.row(i) = (P.row(i).array() - lse[h * T + start + i]).exp();
    }
    dV.noalias() = P.transpose() * dO;
    RowMat dP = dO * V.transpose();                                    // (len, len)
    Eigen::VectorXf Di = (dO.cwiseProduct(O)).rowwise().sum();         // (len)
    RowMat dS = P.cwiseProduct(dP.colwise() - Di);                     // softmax backward
    dQ.noalias() = (dS * K) * scale;
    dK.noalias() = (dS.transpose() * Q) * scale;
  }
}

}  // namespace sbert::cpu
