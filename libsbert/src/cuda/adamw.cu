// AdamW and the gradient-clipping reductions, the twins of cpu/adamw.cpp.
#include <vector>

#include "cuda/common.cuh"
#include "cuda/train_kernels.h"

namespace sbert::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 4096;  // cpu::sum_squares's chunk

// The _rn intrinsics are never contracted into FMAs: the CPU's exact operations.
__device__ __forceinline__ void adamw_element(float* param, float* m, float* v, const float* grad,
                                              int64_t e, const AdamWScalars& s) {
  const float g = grad[e];
  const float p = __fmul_rn(param[e], s.decay_mul);
  const float m0 = m[e];
  const float mm = __fadd_rn(m0, __fmul_rn(s.one_minus_beta1, __fsub_rn(g, m0)));
  const float vv =
      __fadd_rn(__fmul_rn(v[e], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv), s.bias_correction2_sqrt), s.eps);
  param[e] = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step_size, mm), denom));
  m[e] = mm;
  v[e] = vv;
}

__global__ void adamw_kernel(float* param, float* m, float* v, const float* grad, int64_t n,
                             AdamWScalars s) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e >= n) return;
  adamw_element(param, m, v, grad, e, s);
}

// The whole block in one launch: element e's range is the first with ends[r] > e (binary
// search over the few hundred tensors), whose flag picks the scalars.
__global__ void adamw_multi_kernel(float* param, float* m, float* v, const float* grad, int64_t n,
                                   const int64_t* ends, const uint8_t* decay, int nranges,
                                   AdamWScalars with_decay, AdamWScalars no_decay) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e >= n) return;
  int lo = 0, hi = nranges - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (ends[mid] > e) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  adamw_element(param, m, v, grad, e, decay[lo] ? with_decay : no_decay);
}

// One block per 4096-element chunk: per-thread double sums, then a fixed-order tree.
__global__ void __launch_bounds__(kThreads)
    sum_squares_kernel(double* partial, const float* x, int64_t n) {
  SIMT_SHARED(red, double[kThreads]);
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kChunk;
  const int64_t e = b + kChunk < n ? b + kChunk : n;
  double acc = 0.0;
  for (int64_t i = b + threadIdx.x; i < e; i += kThreads) {
    acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
  red[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = red[0];
}

// grad_norm.h's norm and clip coefficient on the device, one thread: the chunk partials added
// in order (as sum_squares adds them on the host), sqrt and the quotient in double (correctly
// rounded, as on the CPU), the coefficient rounded to float. Finite means <= DBL_MAX, which
// NaN and inf are not.
__global__ void clip_finish_kernel(const double* partial, int64_t chunks, double max_norm,
                                   double* norm_out, float* coef_out) {
  double total = 0.0;
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  const double norm = sqrt(total);
  float coef = 1.0f;
  if (max_norm > 0.0 && norm <= 1.7976931348623157e308) {
    const double q = max_norm / (norm + 1e-6);
    if (q < 1.0) coef = static_cast<float>(q);
  }
  *norm_out = norm;
  *coef_out = coef;
}

__global__ void scale_by_kernel(float* x, int64_t n, const float* coef) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const float c = *coef;
  if (i < n && c != 1.0f) x[i] = __fmul_rn(x[i], c);
}

__global__ void scale_kernel(float* x, int64_t n, float coef) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) x[i] = __fmul_rn(x[i], coef);
}

}  // namespace

void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                  const AdamWScalars& s, Runtime& rt) {
  if (n == 0) return;
  simt::launch<adamw_kernel>({grid_for(n, kThreads, "adamw"), kThreads, 0, stream_of(rt)}, param, m,
                             v, grad, n, s);
  SBERT_LAUNCH_CHECK("adamw");
}

void adamw_update_multi(float* param, float* m, float* v, const float* grad, int64_t n,
                        const int64_t* ends, const uint8_t* decay, int nranges,
                        const AdamWScalars& with_decay, const AdamWScalars& no_decay, Runtime& rt) {
  if (n == 0) return;
  SBERT_CHECK(nranges > 0, "[adamw] no parameter ranges for ", n, " parameters");
  simt::launch<adamw_multi_kernel>({grid_for(n, kThreads, "adamw"), kThreads, 0, stream_of(rt)},
                                   param, m, v, grad, n, ends, decay, nranges, with_decay,
                                   no_decay);
  SBERT_LAUNCH_CHECK("adamw");
}

double sum_squares(const float* x, int64_t n, Runtime& rt) {
  if (n == 0) return 0.0;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  auto* partial =
      static_cast<double*>(rt.impl().scratch_for(static_cast<size_t>(chunks) * sizeof(double)));
  simt::launch<sum_squares_kernel>({grid_for(chunks, 1, "grad_norm"), kThreads, 0, stream_of(rt)},
                                   partial, x, n);
  SBERT_LAUNCH_CHECK("grad_norm");
  std::vector<double> host(static_cast<size_t>(chunks));
  SBERT_CUDA_CHECK(cudaMemcpyAsync(host.data(), partial, host.size() * sizeof(double),
                                   cudaMemcpyDeviceToHost, stream_of(rt)));
  SBERT_CUDA_CHECK(cudaStreamSynchronize(stream_of(rt)));
  double total = 0.0;
  for (double p : host) total += p;
  return total;
}

void scale_inplace(float* x, int64_t n, float coef, Runtime& rt) {
  if (n == 0) return;
  simt::launch<scale_kernel>({grid_for(n, kThreads, "grad_norm"), kThreads, 0, stream_of(rt)}, x, n,
                             coef);
  SBERT_LAUNCH_CHECK("grad_norm");
}

namespace {
int64_t norm_chunks(int64_t n) { return n > 0 ? (n + kChunk - 1) / kChunk : 0; }
// clip_by_global_norm's scratch: the chunk partials (double), then the coefficient (float).
size_t clip_scratch_bytes(int64_t n) {
  return static_cast<size_t>(norm_chunks(n) + 1) * sizeof(double);
}
}  // namespace

void reserve_clip_by_global_norm(int64_t n, Runtime& rt) {
  rt.impl().scratch_for(clip_scratch_bytes(n));
}

void clip_by_global_norm(float* x, int64_t n, double max_norm, double* norm_out, Runtime& rt) {
  const int64_t chunks = norm_chunks(n);
  auto* partial = static_cast<double*>(rt.impl().scratch_for(clip_scratch_bytes(n)));
  auto* coef = reinterpret_cast<float*>(partial + chunks);
  if (chunks > 0) {
    simt::launch<sum_squares_kernel>({grid_for(chunks, 1, "grad_norm"), kThreads, 0, stream_of(rt)},
                                     partial, x, n);
    SBERT_LAUNCH_CHECK("grad_norm");
  }
  simt::launch<clip_finish_kernel>({1, 1, 0, stream_of(rt)}, partial, chunks, max_norm, norm_out,
                                   coef);
  SBERT_LAUNCH_CHECK("grad_norm");
  if (n == 0) return;
  simt::launch<scale_by_kernel>({grid_for(n, kThreads, "grad_norm"), kThreads, 0, stream_of(rt)}, x,
                                n, coef);
  SBERT_LAUNCH_CHECK("grad_norm");
}

}  // namespace sbert::cuda
