// int8 linear layers (cpu/qgemm.h): weight packing, per-row activation quantization, and the
// three integer kernels (scalar reference, AVX2, AVX-512 VNNI) behind one float epilogue.
//
// Blocking: OpenMP over blocks of kRowBlock rows (their int8 activations, <= 96 x k bytes, stay
// in L2); inside a block, for each pair of 16-column weight panels (<= 32 x k bytes, in L1),
// tiles of kMR rows x 32 columns accumulate in registers over the whole k, then
// store_tile() scales them to floats. Integer sums are exact, so the split changes nothing.
#include "cpu/qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "cpu/fast_math.h"
#include "cpu/simd.h"

#include "cpu/qgemm_x86.h"

namespace sbert::cpu {

namespace {

constexpr int64_t kPanel = kQPanel;  // columns per packed panel
constexpr int64_t kTileN = 32;     // columns per tile: two panels
constexpr int kMR = 6;             // rows per tile
constexpr int64_t kRowBlock = 96;  // rows per OpenMP task (a multiple of kMR and of 32: AMX)
// |sum| <= 255 * 127 * kp must fit an int32 (the VNNI path's unsigned activations).
constexpr int64_t kMaxK = (int64_t{1} << 31) / (255 * 127) - 4;

// The one epilogue of every path: acc (mr, kTileN) exact int32 sums of columns [j0, j0 + nc).
void store_tile(float* out, int64_t ldo, const int32_t* acc, int mr, int64_t j0, int64_t nc,
                const float* xscale, const float* wscale, const float* bias) {
  for (int i = 0; i < mr; ++i) {
    float* o = out + i * ldo + j0;
    const int32_t* a = acc + i * kTileN;
    const float xs = xscale[i];
    for (int64_t j = 0; j < nc; ++j) {
      float v = static_cast<float>(a[j]) * (xs * wscale[j0 + j]);
      if (bias) v = v + bias[j0 + j];
      o[j] = v;
    }
  }
}

// Round to nearest even for |v| < 2^22 without a libm call (baseline x86-64 has no roundss):
// adding 1.5 * 2^23 leaves no fraction bits, and the default rounding mode is to nearest even.
SBERT_SIMD_INLINE float round_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// Clones for AVX-512 and AVX2 besides the baseline: every step is exact (max of |x| as integer
// bits, one multiply, round_even, clamp), so all clones give the same bytes.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define SBERT_QUANT_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SBERT_QUANT_CLONES
#endif

SBERT_SIMD_INLINE void quantize_row(int8_t* q, float* scale, const float* x, int64_t k, int64_t kp,
                                    uint8_t xor_mask) {
  // max |x| through the bits: for non-negative floats the integer order is the numeric order,
  // and an integer max reduction vectorizes where a float one (NaN rules) does not.
  uint32_t abits = 0;
  for (int64_t i = 0; i < k; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    b &= 0x7fffffffu;
    abits = b > abits ? b : abits;
  }
  float amax;
  std::memcpy(&amax, &abits, 4);
  if (abits == 0 || abits >= 0x7f800000u) {
    // All zero (or not finite: the fp32 path would give NaN; int8 gives the bias): zeros.
    *scale = 0.0f;
    std::memset(q, static_cast<int8_t>(xor_mask), static_cast<size_t>(kp));
    return;
  }
  *scale = amax / 127.0f;
  const float inv = 127.0f / amax;
  const int mask = xor_mask;
  for (int64_t i = 0; i < k; ++i) {
    float v = round_even(x[i] * inv);
    v = v < -127.0f ? -127.0f : v;
    v = v > 127.0f ? 127.0f : v;
    q[i] = static_cast<int8_t>(static_cast<int>(v) ^ mask);
  }
  for (int64_t i = k; i < kp; ++i) q[i] = static_cast<int8_t>(xor_mask);
}

SBERT_QUANT_CLONES void quantize_row_any(int8_t* q, float* scale, const float* x, int64_t k,
                                         int64_t kp, uint8_t xor_mask) {
  quantize_row(q, scale, x, k, kp, xor_mask);
}

void quantize_rows_masked(int8_t* xq, float* xscale, const float* x, int64_t rows, int64_t k,
                          int64_t kp, uint8_t xor_mask) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row_any(xq + r * kp, xscale + r, x + r * k, k, kp, xor_mask);
  }
}

// ---- scalar reference ----------------------------------------------------------------------
void scalar_block(float* out, const int8_t* xq, const float* xscale, const QWeight& w,
                  const float* bias, int64_t rows) {
  int32_t acc[kMR * kTileN];
  for (int64_t j0 = 0; j0 < w.n; j0 += kTileN) {
    const int64_t nc = std::min(kTileN, w.n - j0);
    for (int64_t r = 0; r < rows; r += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, rows - r));
      for (int i = 0; i < mr; ++i) {
        const int8_t* a = xq + (r + i) * w.kp;
        for (int64_t j = 0; j < nc; ++j) {
          const int8_t* b = w.q.data() + (j0 + j) * w.k;
          int32_t s = 0;
          for (int64_t t = 0; t < w.k; ++t) s += int32_t{a[t]} * int32_t{b[t]};
          acc[i * kTileN + j] = s;
        }
      }
      store_tile(out + r * w.n, w.n, acc, mr, j0, nc, xscale + r, w.scale.data(), bias);
    }
  }
}

#if SBERT_QGEMM_X86
// ---- AVX2: vpmaddubsw(|w|, sign(x, w)) then vpmaddwd(., 1) ---------------------------------
// One panel (16 columns = two ymm of 8 int32) for MR rows; acc has row stride kTileN.
template <int MR>
[[gnu::target("avx2")]] [[gnu::always_inline]] inline void avx2_panel(int32_t* acc, const int8_t* a,
                                                                      int64_t lda,
                                                                      const int8_t* panel,
                                                                      int64_t k4) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_si256();
  for (int64_t t = 0; t < k4; ++t) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 64));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 64 + 32));
    const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
    for (int i = 0; i < MR; ++i) {
      int32_t v;
      std::memcpy(&v, a + i * lda + t * 4, 4);
      const __m256i x = _mm256_set1_epi32(v);
      const __m256i p0 = _mm256_maddubs_epi16(aw0, _mm256_sign_epi8(x, w0));
      const __m256i p1 = _mm256_maddubs_epi16(aw1, _mm256_sign_epi8(x, w1));
      c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(p0, ones));
      c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(p1, ones));
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * kTileN), c0[i]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * kTileN + 8), c1[i]);
  }
}

template <int MR>
[[gnu::target("avx2")]] void avx2_tile(int32_t* acc, const int8_t* a, int64_t lda, const QWeight& w,
                                       int64_t j0) {
  const int64_t k4 = w.kp / 4, panel_bytes = w.kp * kPanel;
  const int8_t* p = w.packed.data() + (j0 / kPanel) * panel_bytes;
  avx2_panel<MR>(acc, a, lda, p, k4);
  avx2_panel<MR>(acc + kPanel, a, lda, p + panel_bytes, k4);
}

void avx2_block(float* out, const int8_t* xq, const float* xscale, const QWeight& w,
                const float* bias, int64_t rows) {
  constexpr int kMR2 = 3;  // 3 rows x 16 columns: 6 accumulators of the 16 ymm registers
  int32_t acc[kMR * kTileN];
  for (int64_t j0 = 0; j0 < w.n; j0 += kTileN) {
    const int64_t nc = std::min(kTileN, w.n - j0);
    for (int64_t r = 0; r < rows; r += kMR2) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR2, rows - r));
      const int8_t* a = xq + r * w.kp;
      if (mr == 3)
        avx2_tile<3>(acc, a, w.kp, w, j0);
      else if (mr == 2)
        avx2_tile<2>(acc, a, w.kp, w, j0);
      else
        avx2_tile<1>(acc, a, w.kp, w, j0);
      store_tile(out + r * w.n, w.n, acc, mr, j0, nc, xscale + r, w.scale.data(), bias);
    }
  }
}

// ---- AVX-512 VNNI: vpdpbusd(x + 128, w) - 128 * colsum -------------------------------------
// MR rows x 32 columns [j0, j0 + nc) of out (row stride ldo), scaled and biased.
template <int MR>
[[gnu::target(SBERT_VNNI_TARGET)]] void vnni_tile(float* out, int64_t ldo, const uint8_t* a,
                                                  int64_t lda, const QWeight& w, int64_t j0,
                                                  int64_t nc, const float* xscale,
                                                  const float* bias) {
  const int64_t k4 = w.kp / 4, panel_bytes = w.kp * kPanel;
  const int8_t* b0 = w.packed.data() + (j0 / kPanel) * panel_bytes;
  const int8_t* b1 = b0 + panel_bytes;
  // Named accumulators, not an array: GCC 12 copies an array of __m512i between registers on
  // every iteration, which halved the kernel's speed.
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z,
          c50 = z, c51 = z;
  const uint8_t* a0 = a;
  const uint8_t* a1 = MR > 1 ? a + lda : a;
  const uint8_t* a2 = MR > 2 ? a + 2 * lda : a;
  const uint8_t* a3 = MR > 3 ? a + 3 * lda : a;
  const uint8_t* a4 = MR > 4 ? a + 4 * lda : a;
  const uint8_t* a5 = MR > 5 ? a + 5 * lda : a;
#define SBERT_VNNI_ROW(i)                          \
  if constexpr (MR > i) {                          \
    int32_t v;                                     \
    std::memcpy(&v, a##i + t * 4, 4);              \
    const __m512i x = _mm512_set1_epi32(v);        \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, x, w0); \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, x, w1); \
  }
  for (int64_t t = 0; t < k4; ++t) {
    const __m512i w0 = _mm512_loadu_si512(b0 + t * 64);
    const __m512i w1 = _mm512_loadu_si512(b1 + t * 64);
    SBERT_VNNI_ROW(0)
    SBERT_VNNI_ROW(1)
    SBERT_VNNI_ROW(2)
    SBERT_VNNI_ROW(3)
    SBERT_VNNI_ROW(4)
    SBERT_VNNI_ROW(5)
  }
#undef SBERT_VNNI_ROW
  const __m512i c0[6] = {c00, c10, c20, c30, c40, c50};
  const __m512i c1[6] = {c01, c11, c21, c31, c41, c51};
  // Undo the +128 of the unsigned activations: sum (x + 128) w = sum x w + 128 colsum.
  const __m512i s0 = _mm512_loadu_si512(w.colsum128.data() + j0);
  const __m512i s1 = _mm512_loadu_si512(w.colsum128.data() + j0 + 16);
  const auto [m0, m1] = tile_masks(nc);
  const float* ws = w.scale.data() + j0;
  const float* b = bias ? bias + j0 : nullptr;
  for (int i = 0; i < MR; ++i) {
    const __m512 xs = _mm512_set1_ps(xscale[i]);
    float* o = out + i * ldo + j0;
    vnni_store(o, _mm512_sub_epi32(c0[i], s0), xs, ws, b, m0);
    if (m1) vnni_store(o + 16, _mm512_sub_epi32(c1[i], s1), xs, ws + 16, b ? b + 16 : nullptr, m1);
  }
}

void vnni_block(float* out, const int8_t* xq, const float* xscale, const QWeight& w,
                const float* bias, int64_t rows) {
  const auto* xu = reinterpret_cast<const uint8_t*>(xq);
  for (int64_t j0 = 0; j0 < w.n; j0 += kTileN) {
    const int64_t nc = std::min(kTileN, w.n - j0);
    for (int64_t r = 0; r < rows; r += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, rows - r));
      const uint8_t* a = xu + r * w.kp;
      float* o = out + r * w.n;
      const float* xs = xscale + r;
      switch (mr) {
        case 6:
          vnni_tile<6>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
        case 5:
          vnni_tile<5>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
        case 4:
          vnni_tile<4>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
        case 3:
          vnni_tile<3>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
        case 2:
          vnni_tile<2>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
        default:
          vnni_tile<1>(o, w.n, a, w.kp, w, j0, nc, xs, bias);
          break;
      }
    }
  }
}
#endif  // SBERT_QGEMM_X86

}  // namespace

const char* to_string(QIsa isa) {
  switch (isa) {
    case QIsa::Scalar:
      return "scalar";
    case QIsa::Avx2:
      return "avx2";
    case QIsa::Avx512Vnni:
      return "avx512-vnni";
    case QIsa::Amx:
      return "amx";
  }
  return "?";
}

bool qisa_supported(QIsa isa) {
  if (isa == QIsa::Scalar) return true;
#if SBERT_QGEMM_X86
  __builtin_cpu_init();
  if (isa == QIsa::Avx2) return __builtin_cpu_supports("avx2");
  const bool vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  // Amx keeps the VNNI kernel for weights the tiles do not fit, and its epilogue is AVX-512.
  return isa == QIsa::Amx ? vnni && amx_int8_usable() : vnni;
#else
  return false;
#endif
}

QIsa best_qisa() {
  if (qisa_supported(QIsa::Amx)) return QIsa::Amx;
  if (qisa_supported(QIsa::Avx512Vnni)) return QIsa::Avx512Vnni;
  if (qisa_supported(QIsa::Avx2)) return QIsa::Avx2;
  return QIsa::Scalar;
}

QWeight make_qweight(std::vector<int8_t> q, std::vector<float> scale, int64_t n, int64_t k) {
  SBERT_CHECK(n > 0 && k > 0 && k <= kMaxK, "[qlinear] weight shape (", n, ", ", k,
              ") is not supported (1 <= k <= ", kMaxK, ")");
  SBERT_CHECK(static_cast<int64_t>(q.size()) == n * k && static_cast<int64_t>(scale.size()) == n,
              "[qlinear] weight of ", q.size(), " values and ", scale.size(), " scales for shape (",
              n, ", ", k, ")");
  QWeight w;
  w.n = n;
  w.k = k;
  w.kp = (k + 3) / 4 * 4;
  w.np = (n + kTileN - 1) / kTileN * kTileN;
  w.q = std::move(q);
  w.scale = std::move(scale);
  w.packed.assign(static_cast<size_t>(w.np * w.kp), 0);
  w.colsum128.assign(static_cast<size_t>(w.np), 0);
  const int64_t k4 = w.kp / 4;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = j / kPanel, c = j % kPanel;
    int32_t sum = 0;
    for (int64_t t = 0; t < k; ++t) {
      const int8_t v = w.q[static_cast<size_t>(j * k + t)];
      SBERT_CHECK(v >= -127, "[qlinear] weight row ", j,
                  " holds -128 (int8 weights are "
                  "symmetric, -127..127)");
      w.packed[static_cast<size_t>(((p * k4 + t / 4) * kPanel + c) * 4 + t % 4)] = v;
      sum += v;
    }
    w.colsum128[static_cast<size_t>(j)] = 128 * sum;
  }
  return w;
}

QWeight quantize_weight(const float* w, int64_t n, int64_t k) {
  std::vector<int8_t> q(static_cast<size_t>(n * k));
  std::vector<float> scale(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    const float* row = w + j * k;
    float amax = 0.0f;
    for (int64_t t = 0; t < k; ++t) amax = std::max(amax, std::fabs(row[t]));
    SBERT_CHECK(std::isfinite(amax), "[qlinear] weight row ", j, " is not finite");
    const float s = amax / 127.0f;
    scale[static_cast<size_t>(j)] = s;
    for (int64_t t = 0; t < k; ++t) {
      const float v = s > 0.0f ? std::nearbyint(row[t] / s) : 0.0f;
      q[static_cast<size_t>(j * k + t)] =
          static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, v)));
    }
  }
  return make_qweight(std::move(q), std::move(scale), n, k);
}

void quantize_rows(int8_t* xq, float* xscale, const float* x, int64_t rows, int64_t k, int64_t kp) {
  quantize_rows_masked(xq, xscale, x, rows, k, kp, 0);
}

namespace {
// gelu_forward's formula (cpu/gelu.cpp: x * cdf(x)) in place; -ffp-contract=off keeps every
// clone's bits those of the scalar code.
SBERT_SIMD_CLONES void gelu_in_place(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = gelu_erf(x[i]);
}
}  // namespace

void qlinear_forward(float* out, const float* x, const QWeight& w, const float* bias, int64_t rows,
                     QScratch& scratch, QIsa isa, bool gelu) {
  if (rows == 0) return;
  SBERT_CHECK(qisa_supported(isa), "[qlinear] this CPU cannot run the ", to_string(isa), " kernel");
  if (isa == QIsa::Amx && !amx_fits(w)) isa = QIsa::Avx512Vnni;
  // Amx reads whole 32-row tiles: the rows past the last are read, their sums dropped.
  const int64_t stored = isa == QIsa::Amx ? (rows + 31) / 32 * 32 : rows;
  scratch.xq.resize(static_cast<size_t>(stored * w.kp));
  scratch.xscale.resize(static_cast<size_t>(rows));
  // VNNI multiplies unsigned by signed bytes: store x + 128 (the sign bit flipped).
  quantize_rows_masked(scratch.xq.data(), scratch.xscale.data(), x, rows, w.k, w.kp,
                       isa == QIsa::Avx512Vnni ? 0x80 : 0);
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int8_t* xq = scratch.xq.data();
  const float* xs = scratch.xscale.data();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * kRowBlock, nr = std::min(kRowBlock, rows - r0);
    float* o = out + r0 * w.n;
    const int8_t* a = xq + r0 * w.kp;
    switch (isa) {
#if SBERT_QGEMM_X86
      case QIsa::Amx:
        amx_block(o, a, xs + r0, w, bias, nr);
        break;
      case QIsa::Avx512Vnni:
        vnni_block(o, a, xs + r0, w, bias, nr);
        break;
      case QIsa::Avx2:
        avx2_block(o, a, xs + r0, w, bias, nr);
        break;
#endif
      default:
        scalar_block(o, a, xs + r0, w, bias, nr);
        break;
    }
    if (gelu) gelu_in_place(o, nr * w.n);
  }
}

}  // namespace sbert::cpu
