#include "core/rng.h"

#include <emmintrin.h>  // SSE2, part of x86-64
#include <immintrin.h>  // AVX2, used only behind a run-time check

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/check.h"

namespace sbert {

uint32_t DropoutSpec::threshold() const {
  // p < 1, so p * 2^32 < 2^32 (exact in double for a float p).
  return static_cast<uint32_t>(std::floor(static_cast<double>(p) * 4294967296.0));
}

DropoutSpec dropout_spec(const DropoutState& state, float p, int layer, DropoutSite site) {
  SBERT_CHECK(p >= 0.0f && p < 1.0f, "[dropout] probability must be in [0, 1), got ", p);
  SBERT_CHECK(layer >= 0 && layer < (1 << 14), "[dropout] layer index ", layer,
              " out of range [0, 16384)");
  SBERT_CHECK(state.micro < (1u << 16), "[dropout] micro-batch index ", state.micro,
              " out of range [0, 65536)");
  DropoutSpec s;
  if (!state.training || p == 0.0f) return s;
  s.p = p;
  s.seed = state.seed;
  s.stream =
      (state.micro << 16) | (static_cast<uint32_t>(layer) << 2) | static_cast<uint32_t>(site);
  s.step = static_cast<uint32_t>(state.step);
  return s;
}

namespace {

// Four consecutive Philox blocks (groups g0 .. g0 + 3) at once with SSE2 (baseline on x86-64):
// the same words as philox4x32_10 block by block; w[j] holds word j of the four blocks.
struct Mul {  // lo and hi 32-bit halves of the four products a * m
  __m128i lo, hi;
};
inline Mul mul_lanes(__m128i a, __m128i m) {
  const __m128i even = _mm_mul_epu32(a, m);                     // [lo0 hi0 lo2 hi2]
  const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);  // [lo1 hi1 lo3 hi3]
  const __m128i lo = _mm_unpacklo_epi32(_mm_shuffle_epi32(even, _MM_SHUFFLE(0, 0, 2, 0)),
                                        _mm_shuffle_epi32(odd, _MM_SHUFFLE(0, 0, 2, 0)));
  const __m128i hi = _mm_unpacklo_epi32(_mm_shuffle_epi32(even, _MM_SHUFFLE(0, 0, 3, 1)),
                                        _mm_shuffle_epi32(odd, _MM_SHUFFLE(0, 0, 3, 1)));
  return {lo, hi};
}

void philox_x4(uint32_t (&w)[4][4], uint64_t g0, const DropoutSpec& spec) {
  const auto u = [](uint32_t v) { return static_cast<int>(v); };
  uint32_t lo[4], hi[4];
  for (int l = 0; l < 4; ++l) {
    const uint64_t g = g0 + static_cast<uint64_t>(l);
    lo[l] = static_cast<uint32_t>(g);
    hi[l] = static_cast<uint32_t>(g >> 32);
  }
  __m128i c0 = _mm_setr_epi32(u(lo[0]), u(lo[1]), u(lo[2]), u(lo[3]));
  __m128i c1 = _mm_setr_epi32(u(hi[0]), u(hi[1]), u(hi[2]), u(hi[3]));
  __m128i c2 = _mm_set1_epi32(u(spec.stream));
  __m128i c3 = _mm_set1_epi32(u(spec.step));
  const __m128i m0 = _mm_set1_epi32(u(0xD2511F53u)), m1 = _mm_set1_epi32(u(0xCD9E8D57u));
  uint32_t k0 = static_cast<uint32_t>(spec.seed), k1 = static_cast<uint32_t>(spec.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const Mul p0 = mul_lanes(c0, m0), p1 = mul_lanes(c2, m1);
    c0 = _mm_xor_si128(_mm_xor_si128(p1.hi, c1), _mm_set1_epi32(u(k0)));
    c1 = p1.lo;
    c2 = _mm_xor_si128(_mm_xor_si128(p0.hi, c3), _mm_set1_epi32(u(k1)));
    c3 = p0.lo;
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w[0]), c0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w[1]), c1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w[2]), c2);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(w[3]), c3);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SBERT_HAVE_AVX2_PHILOX 1
// Eight Philox blocks at once with AVX2, turned straight into 32 float factors: the same words
// and factors as philox_x4 (checked against the scalar Philox by tests/unit/test_dropout.cpp),
// twice as many lanes. Called only when the CPU has AVX2.
struct Mul8 {
  __m256i lo, hi;
};
__attribute__((target("avx2"))) inline Mul8 mul_lanes8(__m256i a, __m256i m) {
  const __m256i even = _mm256_mul_epu32(a, m);                        // [lo0 hi0 lo2 hi2 ..]
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // [lo1 hi1 lo3 hi3 ..]
  return {_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA),
          _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA)};
}

// factor[0, 32 runs) for groups g0 .. g0 + 8 runs - 1.
__attribute__((target("avx2"))) void factors_avx2(float* factor, uint64_t g0, int64_t runs,
                                                  const DropoutSpec& spec, uint32_t thr,
                                                  float scale) {
  const auto u = [](uint32_t v) { return static_cast<int>(v); };
  const __m256i m0 = _mm256_set1_epi32(u(0xD2511F53u)), m1 = _mm256_set1_epi32(u(0xCD9E8D57u));
  const __m256i thrv = _mm256_set1_epi32(u(thr));
  const __m256 scalev = _mm256_set1_ps(scale);
  for (int64_t run = 0; run < runs; ++run, g0 += 8, factor += 32) {
    alignas(32) uint32_t lo[8], hi[8];
    for (int l = 0; l < 8; ++l) {
      const uint64_t g = g0 + static_cast<uint64_t>(l);
      lo[l] = static_cast<uint32_t>(g);
      hi[l] = static_cast<uint32_t>(g >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
    __m256i c2 = _mm256_set1_epi32(u(spec.stream));
    __m256i c3 = _mm256_set1_epi32(u(spec.step));
    uint32_t k0 = static_cast<uint32_t>(spec.seed), k1 = static_cast<uint32_t>(spec.seed >> 32);
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
      }
      const Mul8 p0 = mul_lanes8(c0, m0), p1 = mul_lanes8(c2, m1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(p1.hi, c1), _mm256_set1_epi32(u(k0)));
      c1 = p1.lo;
      c2 = _mm256_xor_si256(_mm256_xor_si256(p0.hi, c3), _mm256_set1_epi32(u(k1)));
      c3 = p0.lo;
    }
    // c_j holds word j of blocks 0..7; element 4 l + j of the run is word j of block l.
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpacklo_epi32(c2, c3);
    const __m256i t2 = _mm256_unpackhi_epi32(c0, c1), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i r0 = _mm256_unpacklo_epi64(t0, t1);  // blocks 0 | 4
    const __m256i r1 = _mm256_unpackhi_epi64(t0, t1);  // blocks 1 | 5
    const __m256i r2 = _mm256_unpacklo_epi64(t2, t3);  // blocks 2 | 6
    const __m256i r3 = _mm256_unpackhi_epi64(t2, t3);  // blocks 3 | 7
    const __m256i e[4] = {
        _mm256_permute2x128_si256(r0, r1, 0x20), _mm256_permute2x128_si256(r2, r3, 0x20),
        _mm256_permute2x128_si256(r0, r1, 0x31), _mm256_permute2x128_si256(r2, r3, 0x31)};
    for (int q = 0; q < 4; ++q) {
      const __m256i keep = _mm256_cmpeq_epi32(_mm256_max_epu32(e[q], thrv), e[q]);  // w >= thr
      _mm256_storeu_ps(factor + 8 * q, _mm256_and_ps(_mm256_castsi256_ps(keep), scalev));
    }
  }
}
#endif

}  // namespace

template <class T>
void dropout_factors(T* factor, const DropoutSpec& spec, uint64_t first, int64_t n) {
  if (!spec.active()) {
    std::fill(factor, factor + n, T(1));
    return;
  }
  const uint32_t thr = spec.threshold();
  const T scale = T(1) / (T(1) - static_cast<T>(spec.p));
  int64_t i = 0;
  // Head up to a group boundary, block by block.
  while (i < n && ((first + static_cast<uint64_t>(i)) & 3) != 0) {
    const uint64_t e = first + static_cast<uint64_t>(i);
    factor[i++] = spec.words(e >> 2)[e & 3] >= thr ? scale : T(0);
  }
#ifdef SBERT_HAVE_AVX2_PHILOX
  // Whole runs of eight groups (32 elements) with AVX2 where the CPU has it.
  if constexpr (std::is_same_v<T, float>) {
    const int64_t runs = (n - i) / 32;
    if (runs > 0 && __builtin_cpu_supports("avx2")) {
      factors_avx2(factor + i, (first + static_cast<uint64_t>(i)) >> 2, runs, spec, thr, scale);
      i += 32 * runs;
    }
  }
#endif
  // Whole runs of four groups (16 elements).
  uint32_t w[4][4];
  for (; i + 16 <= n; i += 16) {
    philox_x4(w, (first + static_cast<uint64_t>(i)) >> 2, spec);
    for (int l = 0; l < 4; ++l) {
      for (int j = 0; j < 4; ++j) factor[i + 4 * l + j] = w[j][l] >= thr ? scale : T(0);
    }
  }
  for (; i < n; ++i) {  // tail
    const uint64_t e = first + static_cast<uint64_t>(i);
    factor[i] = spec.words(e >> 2)[e & 3] >= thr ? scale : T(0);
  }
}

template void dropout_factors<float>(float*, const DropoutSpec&, uint64_t, int64_t);
template void dropout_factors<double>(double*, const DropoutSpec&, uint64_t, int64_t);

}  // namespace sbert
