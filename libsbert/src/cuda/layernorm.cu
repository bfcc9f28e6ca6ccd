// LayerNorm (optionally fused with the residual add), the twin of cpu/layernorm.cpp: one warp
// per row, row statistics in double as on the CPU; parameter gradients through the
// deterministic column-sum kernel (common.cuh).
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace sbert::cuda {

namespace {

__global__ void __launch_bounds__(kWarp* kRowWarps)
    layernorm_forward_kernel(float* out, float* sum, float* mean, float* rstd, const float* a,
                             const float* b, const float* weight, const float* bias, int64_t rows,
                             int64_t C, float eps) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowWarps + threadIdx.y;
  if (r >= rows) return;  // uniform per warp
  const float* ar = a + r * C;
  const float* br = b ? b + r * C : nullptr;
  float* sr = sum ? sum + r * C : nullptr;
  float* o = out + r * C;
  // Each lane only ever touches its own columns j = lane + 32 i, so reading back what it wrote
  // to `sum` needs no synchronisation, and out/sum may alias a.
  auto x_at = [&](int64_t j) { return sr ? sr[j] : (br ? ar[j] + br[j] : ar[j]); };
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    const float x = br ? ar[j] + br[j] : ar[j];
    if (sr) sr[j] = x;
    s += static_cast<double>(x);
  }
  const double m = warp_sum(s) / static_cast<double>(C);
  double v = 0.0;
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    const double d = static_cast<double>(x_at(j)) - m;
    v += d * d;
  }
  v = warp_sum(v);
  const float rs =
      static_cast<float>(1.0 / sqrt(v / static_cast<double>(C) + static_cast<double>(eps)));
  const float mt = static_cast<float>(m);
  for (int64_t j = threadIdx.x; j < C; j += kWarp) o[j] = (x_at(j) - mt) * rs * weight[j] + bias[j];
  if (threadIdx.x == 0) {
    if (mean) mean[r] = mt;
    if (rstd) rstd[r] = rs;
  }
}

__global__ void __launch_bounds__(kWarp* kRowWarps)
    layernorm_backward_kernel(float* dinp, const float* dout, const float* dout2, const float* inp,
                              const float* weight, const float* mean, const float* rstd,
                              int64_t rows, int64_t C) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowWarps + threadIdx.y;
  if (r >= rows) return;
  const float* x = inp + r * C;
  const float* dy = dout + r * C;
  const float* dy2 = dout2 ? dout2 + r * C : nullptr;
  float* dx = dinp + r * C;
  const float m = mean[r], rs = rstd[r];
  double sg = 0.0, sgx = 0.0;
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    const float xh = (x[j] - m) * rs;
    const float g = (dy2 ? dy[j] + dy2[j] : dy[j]) * weight[j];
    sg += static_cast<double>(g);
    sgx += static_cast<double>(g) * static_cast<double>(xh);
  }
  const float mg = static_cast<float>(warp_sum(sg) / static_cast<double>(C));
  const float mgx = static_cast<float>(warp_sum(sgx) / static_cast<double>(C));
  for (int64_t j = threadIdx.x; j < C; j += kWarp) {
    const float xh = (x[j] - m) * rs;
    dx[j] = rs * ((dy2 ? dy[j] + dy2[j] : dy[j]) * weight[j] - mg - xh * mgx);
  }
}

// dweight += sum_r dy * xhat, dbias += sum_r dy.
struct LayerNormParamGrad {
  const float *dout, *dout2, *inp, *mean, *rstd;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t j, double (&acc)[2]) const {
    const int64_t i = r * C + j;
    const float xh = (inp[i] - mean[r]) * rstd[r];
    const float dy = dout2 ? dout[i] + dout2[i] : dout[i];
    acc[0] += static_cast<double>(dy) * static_cast<double>(xh);
    acc[1] += static_cast<double>(dy);
  }
};

}  // namespace

static void layernorm_forward_impl(float* out, float* sum, float* mean, float* rstd, const float* a,
                                   const float* b, const float* weight, const float* bias,
                                   int64_t rows, int64_t C, float eps, Runtime& rt) {
  if (rows == 0 || C == 0) return;
  const dim3 block(kWarp, kRowWarps);
  simt::launch<layernorm_forward_kernel>(
      {grid_for(rows, kRowWarps, "layernorm_forward"), block, 0, stream_of(rt)}, out, sum, mean,
      rstd, a, b, weight, bias, rows, C, eps);
  SBERT_LAUNCH_CHECK("layernorm_forward");
}

static void layernorm_backward_impl(float* dinp, float* dweight, float* dbias, const float* dout,
                                    const float* dout2, const float* inp, const float* weight,
                                    const float* mean, const float* rstd, int64_t rows, int64_t C,
                                    Runtime& rt) {
  if (rows == 0 || C == 0) return;
  // Parameter gradients first: they read dout, which a caller may let dinp overwrite.
  launch_column_sums<2>(ColumnOut<2>{{dweight, dbias}},
                        LayerNormParamGrad{dout, dout2, inp, mean, rstd, C}, rows, nullptr, C,
                        stream_of(rt), "layernorm_backward");
  const dim3 block(kWarp, kRowWarps);
  simt::launch<layernorm_backward_kernel>(
      {grid_for(rows, kRowWarps, "layernorm_backward"), block, 0, stream_of(rt)}, dinp, dout, dout2,
      inp, weight, mean, rstd, rows, C);
  SBERT_LAUNCH_CHECK("layernorm_backward");
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void layernorm_forward(const LayerNormForwardArgs<float>& a, Runtime& rt) {
  layernorm_forward_impl(a.out, a.sum, a.mean, a.rstd, a.a, a.b, a.weight, a.bias, a.rows, a.C,
                         a.eps, rt);
}
void layernorm_backward(const LayerNormBackwardArgs<float>& a, Runtime& rt) {
  layernorm_backward_impl(a.dinp, a.dweight, a.dbias, a.dout, a.dout2, a.inp, a.weight, a.mean,
                          a.rstd, a.rows, a.C, rt);
}

}  // namespace sbert::cuda
