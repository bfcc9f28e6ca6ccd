// Exact GELU, x * Phi(x) with Phi(x) = 0.5 * (1 + erf(x / sqrt(2))), as torch's default "gelu".
//   backward: d/dx [x Phi(x)] = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//
// float: erf and exp are branch-free polynomials (below, cpu/fast_math.h) so the loops
// vectorize; libm's erff and expf are scalar calls and made GELU ~10% of a MiniLM training
// step. double (the finite-difference tests) keeps std::erf / std::exp.
#include <algorithm>
#include <cmath>

#include "cpu/fast_math.h"
#include "cpu/kernels.h"
#include "cpu/simd.h"

namespace sbert::cpu {

namespace {
template <class T>
constexpr T kInvSqrt2 = static_cast<T>(0.70710678118654752440L);
template <class T>
constexpr T kInvSqrt2Pi = static_cast<T>(0.39894228040143267794L);

inline float cdf(float x) { return 0.5f * (1.0f + erf_poly(x * kInvSqrt2<float>)); }
inline double cdf(double x) { return 0.5 * (1.0 + std::erf(x * kInvSqrt2<double>)); }
inline float pdf(float x) { return kInvSqrt2Pi<float> * exp_poly(-0.5f * x * x); }
inline double pdf(double x) { return kInvSqrt2Pi<double> * std::exp(-0.5 * x * x); }

constexpr int64_t kChunk = 4096;  // elements per task

// One chunk: [i0, i1); the float overload below is cloned (cpu/simd.h).
template <class T>
SBERT_SIMD_INLINE void forward_chunk(T* out, const T* inp, int64_t i0, int64_t i1) {
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) out[i] = inp[i] * cdf(inp[i]);
}
template <class T>
SBERT_SIMD_INLINE void backward_chunk(T* dinp, const T* inp, const T* dout, int64_t i0,
                                      int64_t i1) {
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) {
    const T x = inp[i];
    dinp[i] = dout[i] * (cdf(x) + x * pdf(x));
  }
}
SBERT_SIMD_CLONES void forward_chunk_any(float* out, const float* inp, int64_t i0, int64_t i1) {
  forward_chunk(out, inp, i0, i1);
}
SBERT_SIMD_CLONES void backward_chunk_any(float* dinp, const float* inp, const float* dout,
                                          int64_t i0, int64_t i1) {
  backward_chunk(dinp, inp, dout, i0, i1);
}
void forward_chunk_any(double* out, const double* inp, int64_t i0, int64_t i1) {
  forward_chunk(out, inp, i0, i1);
}
void backward_chunk_any(double* dinp, const double* inp, const double* dout, int64_t i0,
                        int64_t i1) {
  backward_chunk(dinp, inp, dout, i0, i1);
}
}  // namespace

template <class T>
static void gelu_forward_impl(T* out, const T* inp, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    forward_chunk_any(out, inp, c * kChunk, std::min(n, (c + 1) * kChunk));
  }
}

template <class T>
static void gelu_backward_impl(T* dinp, const T* inp, const T* dout, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    backward_chunk_any(dinp, inp, dout, c * kChunk, std::min(n, (c + 1) * kChunk));
  }
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                                                    \
  void gelu_forward(const GeluForwardArgs<T>& a) { gelu_forward_impl(a.out, a.inp, a.n); } \
  void gelu_backward(const GeluBackwardArgs<T>& a) {                                       \
    gelu_backward_impl(a.dinp, a.inp, a.dout, a.n);                                        \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
