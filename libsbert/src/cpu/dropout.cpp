// Inverted dropout with the mask regenerated from a counter-based RNG (core/rng.h):
//   forward  y = x * m / (1 - p),   backward  dx = dy * m / (1 - p),   m in {0, 1}
// with m of element e a pure function of (seed, step, micro, layer, site, e). Nothing is stored
// between forward and backward.
#include <algorithm>

#include "cpu/kernels.h"

namespace sbert::cpu {

namespace {
constexpr int64_t kChunk = 1024;  // elements per task (a multiple of 4: one Philox call per 4)

template <class T, class F>
void apply_chunks(int64_t n, const DropoutSpec& spec, F&& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i0 = c * kChunk, i1 = std::min(n, i0 + kChunk);
    T factor[kChunk];
    dropout_factors(factor, spec, static_cast<uint64_t>(i0), i1 - i0);
    body(i0, i1, factor);
  }
}
}  // namespace

template <class T>
static void dropout_forward_impl(T* out, const T* inp, int64_t n, const DropoutSpec& spec) {
  if (!spec.active()) {
    if (out != inp) std::copy(inp, inp + n, out);
    return;
  }
  apply_chunks<T>(n, spec, [&](int64_t i0, int64_t i1, const T* f) {
    for (int64_t i = i0; i < i1; ++i) out[i] = inp[i] * f[i - i0];
  });
}

template <class T>
static void dropout_backward_impl(T* dinp, const T* dout, const T* dout2, int64_t n,
                                  const DropoutSpec& spec) {
  if (!spec.active()) {
    if (dout2) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] + dout2[i];
    } else if (dinp != dout) {
      std::copy(dout, dout + n, dinp);
    }
    return;
  }
  apply_chunks<T>(n, spec, [&](int64_t i0, int64_t i1, const T* f) {
    for (int64_t i = i0; i < i1; ++i) {
      dinp[i] = (dout2 ? dout[i] + dout2[i] : dout[i]) * f[i - i0];
    }
  });
}

// The entry points (cpu/kernels.h): each op's argument struct, unpacked.
#define SBERT_DEFINE(T)                                          \
  void dropout_forward(const DropoutForwardArgs<T>& a) {         \
    dropout_forward_impl(a.out, a.inp, a.n, a.spec);             \
  }                                                              \
  void dropout_backward(const DropoutBackwardArgs<T>& a) {       \
    dropout_backward_impl(a.dinp, a.dout, a.dout2, a.n, a.spec); \
  }
SBERT_DEFINE(float)
SBERT_DEFINE(double)
#undef SBERT_DEFINE

}  // namespace sbert::cpu
