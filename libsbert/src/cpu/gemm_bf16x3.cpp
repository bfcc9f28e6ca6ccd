// cpu/gemm_bf16x3.h: the weight split and packing, the per-call activation split, the AMX
// kernel and its driver, and the double-precision reference.
//
// Layout: per k group g (32 k, one tile's depth) two steps: activations lo(x), hi(x); weights
// hi(w), lo(w). With 2 x 2 register blocking (tiles 0, 1: 32 activation rows; 2, 3: two
// 16-column weight panels; 4-7: the 32 x 32 fp32 sums) a group is
//   load lo(x), hi(w): lo(x) hi(w);  load hi(x): hi(x) hi(w);  load lo(w): hi(x) lo(w)
// 8 tile loads for 12 TDPBF16PS, where three independent products would load 12.
//
// Blocking: OpenMP over blocks of at most kRowBlock rows. Per chunk of kChunkGroups groups
// (384 k) the thread splits its block's activations into tiles (<= 384 KB, L2), then takes
// the weight panels kPanelPairs pairs at a time (a 384 KB slab of one chunk, L2): for each
// 32-row pair of tiles, each panel pair of the slab. The sums start from the bias, live in the
// tile registers for one chunk, between chunks in the thread's c buffer, and go to the output
// with one tile store each (GELU, and partial tiles, through a stack copy).
//
// Measured on a 2-core Sapphire Rapids VM (gemm_bench): the tile loads are not what limits
// it (the same instruction sequence on data in L1/L2 runs at 100% of the TMUL peak); the
// output and activation traffic to memory (about 9 GB/s here) is.
#include "cpu/gemm_bf16x3.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "core/check.h"
#include "core/dtype.h"
#include "cpu/fast_math.h"
#include "cpu/qgemm_x86.h"

#if SBERT_QGEMM_X86 && defined(__linux__)
#include <cpuid.h>
#define SBERT_BF16X3_AMX 1
#else
#define SBERT_BF16X3_AMX 0
#endif

namespace sbert::cpu {

namespace {

constexpr int64_t kPanel = 16;        // columns per packed panel (one B tile's width)
constexpr int64_t kDepth = 32;        // k per tile (16 rows of bf16 pairs)
constexpr int64_t kRowBlock = 256;    // most rows per OpenMP task (a multiple of 32)
constexpr int64_t kChunkGroups = 12;  // k groups per chunk: 384 k
constexpr int64_t kPanelPairs = 8;    // weight panel pairs per slab: 256 columns

// x = hi + lo (+ a remainder below 2^-18 |x|): the two bf16 parts, round to nearest even.
inline void split(float x, uint16_t& hi, uint16_t& lo) {
  hi = f32_to_bf16(x);
  lo = f32_to_bf16(x - bf16_to_f32(hi));
}

}  // namespace

SplitWeight split_weight(const float* w, int64_t n, int64_t k) {
  SBERT_CHECK(n > 0 && k > 0, "[bf16x3] weight shape (", n, ", ", k, ") is empty");
  SplitWeight s;
  s.n = n;
  s.k = k;
  s.kp = (k + kDepth - 1) / kDepth * kDepth;
  s.np = (n + 2 * kPanel - 1) / (2 * kPanel) * (2 * kPanel);
  const int64_t steps = 2 * s.kp / kDepth;
  s.packed.assign(static_cast<size_t>(s.np * 2 * s.kp), 0);
  for (int64_t j = 0; j < n; ++j) {
    uint16_t* panel = s.packed.data() + (j / kPanel) * steps * 512;
    const int64_t lane = j % kPanel;
    for (int64_t t = 0; t < k; ++t) {
      uint16_t hi = 0, lo = 0;
      split(w[j * k + t], hi, lo);
      // Step 2 g + part of k group g = t / 32; within a step's tile, pair row (t % 32) / 2,
      // this lane, t % 2.
      const auto put = [&](int64_t part, uint16_t v) {
        const int64_t step = 2 * (t / kDepth) + part, kk = t % kDepth;
        panel[(step * 16 + kk / 2) * 32 + lane * 2 + kk % 2] = v;
      };
      put(0, hi);
      put(1, lo);
    }
  }
  return s;
}

void bf16x3_linear_reference(float* out, const float* x, const float* w, const float* bias,
                             int64_t rows, int64_t k, int64_t n, bool gelu) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t t = 0; t < k; ++t) {
        uint16_t xh = 0, xl = 0, wh = 0, wl = 0;
        split(x[r * k + t], xh, xl);
        split(w[j * k + t], wh, wl);
        const auto d = [](uint16_t h) { return static_cast<double>(bf16_to_f32(h)); };
        s += d(xl) * d(wh) + d(xh) * d(wl) + d(xh) * d(wh);
      }
      float v = static_cast<float>(s);
      if (bias) v = v + bias[j];
      out[r * n + j] = gelu ? gelu_erf(v) : v;
    }
  }
}

#if SBERT_BF16X3_AMX

namespace {

#define SBERT_AMX_BF16_TARGET "avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16"

// maskz forms throughout: GCC 12 warns on the _mm512_undefined_* inside the unmasked ones.
constexpr __mmask16 kAll = 0xffff;

// Rows [0, padded) of x (row stride k; rows past `rows` are zeros), k groups [g0, g1), into a
// chunk of A tiles: step 2 (g - g0) + {0, 1} holds lo, hi of group g, and tile (row tile rt,
// step t) is the kilobyte at a + (rt * steps + t) * 512 (16 rows of 32 bf16), so each tile
// load reads one contiguous kilobyte.
[[gnu::target(SBERT_AMX_BF16_TARGET)]] void split_chunk(uint16_t* a, const float* x, int64_t rows,
                                                        int64_t padded, int64_t k, int64_t g0,
                                                        int64_t g1) {
  const int64_t steps = 2 * (g1 - g0);
  for (int64_t r = 0; r < padded; ++r) {
    const float* xr = r < rows ? x + r * k : x;
    uint16_t* row = a + (r / 16) * steps * 512 + (r % 16) * kDepth;
    for (int64_t t = g0 * kDepth; t < g1 * kDepth; t += 16) {
      const __mmask16 m = r >= rows     ? __mmask16(0)
                          : t + 16 <= k ? kAll
                          : t < k       ? __mmask16((1u << (k - t)) - 1)
                                        : __mmask16(0);
      const __m512 v = _mm512_maskz_loadu_ps(m, xr + t);
      const __m256bh hi = _mm512_cvtneps_pbh(v);  // round to nearest even
      const __m512 hi_f = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(
          kAll, _mm512_maskz_cvtepu16_epi32(kAll, reinterpret_cast<const __m256i&>(hi)), 16));
      const __m256bh lo = _mm512_cvtneps_pbh(_mm512_sub_ps(v, hi_f));
      uint16_t* d = row + 2 * (t / kDepth - g0) * 512 + t % kDepth;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), reinterpret_cast<const __m256i&>(lo));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 512),
                          reinterpret_cast<const __m256i&>(hi));
    }
  }
}

// Sums 4-7 (a 2 x 2 block of 16 x 16 tiles) += activation tiles 0, 1 x weight tiles 2, 3.
[[gnu::target(SBERT_AMX_BF16_TARGET)]] [[gnu::always_inline]] inline void products_2x2() {
  _tile_dpbf16ps(4, 0, 2);
  _tile_dpbf16ps(5, 0, 3);
  _tile_dpbf16ps(6, 1, 2);
  _tile_dpbf16ps(7, 1, 3);
}

// One chunk of k groups for one 32 x 32 output tile. The sums start from the bias (first) or
// from cc; they go back to cc, or, on the last chunk, to out (valid_rows x valid_cols of it,
// row stride ldo floats), through GELU when gelu.
struct Chunk {
  int64_t g0, groups;
  bool first, last;
};
struct TileOperands {
  const uint16_t* a0;  // split_chunk's tiles of rows 0-15, then those of rows 16-31
  const uint16_t* a1;
  const uint16_t* b0;  // the chunk's steps of the two weight panels
  const uint16_t* b1;
};
[[gnu::target(SBERT_AMX_BF16_TARGET)]] [[gnu::always_inline]] inline void tile_32x32(
    const TileOperands& op, const Chunk& ch, const float* bias, float* cc, float* out, int64_t ldo,
    int64_t valid_rows, int64_t valid_cols, bool gelu) {
  if (ch.first) {
    // The bias broadcast down the rows (a tile load of stride 0).
    _tile_loadd(4, bias, 0);
    _tile_loadd(5, bias + 16, 0);
    _tile_loadd(6, bias, 0);
    _tile_loadd(7, bias + 16, 0);
  } else {
    _tile_loadd(4, cc, 64);
    _tile_loadd(5, cc + 256, 64);
    _tile_loadd(6, cc + 512, 64);
    _tile_loadd(7, cc + 768, 64);
  }
  for (int64_t g = 0; g < ch.groups; ++g) {
    const int64_t lo = 2 * g * 512, hi = lo + 512;
    _tile_loadd(0, op.a0 + lo, 64);  // lo(x)
    _tile_loadd(1, op.a1 + lo, 64);
    _tile_loadd(2, op.b0 + lo, 64);  // hi(w)
    _tile_loadd(3, op.b1 + lo, 64);
    products_2x2();
    _tile_loadd(0, op.a0 + hi, 64);  // hi(x)
    _tile_loadd(1, op.a1 + hi, 64);
    products_2x2();
    _tile_loadd(2, op.b0 + hi, 64);  // lo(w)
    _tile_loadd(3, op.b1 + hi, 64);
    products_2x2();
  }
  if (!ch.last) {
    _tile_stored(4, cc, 64);
    _tile_stored(5, cc + 256, 64);
    _tile_stored(6, cc + 512, 64);
    _tile_stored(7, cc + 768, 64);
    return;
  }
  if (!gelu && valid_rows == 32 && valid_cols == 32) {  // a whole tile: straight to out
    _tile_stored(4, out, ldo * 4);
    _tile_stored(5, out + 16, ldo * 4);
    _tile_stored(6, out + 16 * ldo, ldo * 4);
    _tile_stored(7, out + 16 * ldo + 16, ldo * 4);
    return;
  }
  alignas(64) float sums[32 * 32];  // (32 rows, 32 columns)
  _tile_stored(4, sums, 128);
  _tile_stored(5, sums + 16, 128);
  _tile_stored(6, sums + 16 * 32, 128);
  _tile_stored(7, sums + 16 * 32 + 16, 128);
  if (gelu) {
    // While the tile is in L1: cpu/gelu.cpp's formula, vectorized here.
#pragma omp simd
    for (int i = 0; i < 32 * 32; ++i) sums[i] = gelu_erf(sums[i]);
  }
  const auto [m0, m1] = tile_masks(valid_cols);
  for (int64_t i = 0; i < valid_rows; ++i) {
    _mm512_mask_storeu_ps(out + i * ldo, m0, _mm512_load_ps(sums + i * 32));
    _mm512_mask_storeu_ps(out + i * ldo + 16, m1, _mm512_load_ps(sums + i * 32 + 16));
  }
}

// One chunk of k groups for a block of padded rows (a: split_chunk's tiles; rows of them
// valid), every output tile. bias: np floats. c: the block's sums between chunks, padded / 32
// x np / 32 tiles of 32 x 32, each four contiguous 16 x 16 (a row-major buffer made each tile
// load touch 16 pages).
[[gnu::target(SBERT_AMX_BF16_TARGET)]] void amx_chunk(float* out, float* c, const uint16_t* a,
                                                      const SplitWeight& w, const float* bias,
                                                      bool gelu, int64_t rows, int64_t padded,
                                                      const Chunk& ch) {
  const int64_t panel = 2 * w.kp / kDepth * 512, a_tile = 2 * ch.groups * 512;
  const int64_t npairs = w.np / (2 * kPanel), rpairs = padded / 32;
  for (int64_t slab = 0; slab < npairs; slab += kPanelPairs) {
    const int64_t slab_end = std::min(npairs, slab + kPanelPairs);
    for (int64_t rp = 0; rp < rpairs; ++rp) {
      const int64_t r = 32 * rp;
      for (int64_t jp = slab; jp < slab_end; ++jp) {
        const int64_t j0 = 2 * kPanel * jp;
        TileOperands op;
        op.a0 = a + 2 * rp * a_tile;
        op.a1 = op.a0 + a_tile;
        op.b0 = w.packed.data() + 2 * jp * panel + 2 * ch.g0 * 512;
        op.b1 = op.b0 + panel;
        float* cc = c ? c + (rp * npairs + jp) * 1024 : nullptr;  // none for a single chunk
        tile_32x32(op, ch, bias + j0, cc, out + r * w.n + j0, w.n,
                   std::min<int64_t>(32, rows - r), std::min<int64_t>(32, w.n - j0), gelu);
      }
    }
  }
}


[[gnu::target(SBERT_AMX_BF16_TARGET)]] void release_tiles() { _tile_release(); }

bool detect_bf16x3() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22))) return false;  // AMX-BF16
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512bf16")) {
    return false;
  }
  return amx_int8_usable();  // AMX-TILE, the OS's tile state, the process's permission
}

}  // namespace

bool bf16x3_usable() {
  static const bool usable = detect_bf16x3();  // cpuid and one arch_prctl, once
  return usable;
}

void bf16x3_linear_forward(float* out, const float* x, const SplitWeight& w, const float* bias,
                           int64_t rows, SplitScratch& scratch, bool gelu) {
  if (rows <= 0) return;
  SBERT_CHECK(bf16x3_usable(), "[bf16x3] this CPU or process cannot run AMX bf16 tiles");
  const int64_t groups = w.kp / kDepth, chunks = (groups + kChunkGroups - 1) / kChunkGroups;
  // Blocks of at most kRowBlock rows, smaller when that leaves a thread without one.
  const int64_t max_threads = omp_get_max_threads();
  const int64_t per_thread = (rows + max_threads - 1) / max_threads;
  const int64_t block = std::clamp<int64_t>((per_thread + 31) / 32 * 32, 32, kRowBlock);
  const int64_t blocks = (rows + block - 1) / block;
  const int threads = static_cast<int>(std::min(max_threads, blocks));
  // Per thread: one chunk of split activations, and the sums between chunks.
  const int64_t a_size = block * 2 * kChunkGroups * kDepth;
  const int64_t c_size = chunks > 1 ? block * w.np : 0;
  scratch.a.resize(static_cast<size_t>(threads * a_size));
  scratch.c.resize(static_cast<size_t>(threads * c_size));
  // The bias zero-padded to np columns (zeros without one): the sums start from it.
  scratch.bias.assign(static_cast<size_t>(w.np), 0.0f);
  if (bias) std::copy(bias, bias + w.n, scratch.bias.begin());
  const float* bp = scratch.bias.data();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * block, nr = std::min(block, rows - r0);
    const int64_t padded = (nr + 31) / 32 * 32;
    const int64_t tid = omp_get_thread_num();
    uint16_t* a = scratch.a.data() + tid * a_size;
    float* c = scratch.c.data() + tid * c_size;
    float* o = out + r0 * w.n;
    configure_tiles_16x64();
    for (int64_t ci = 0; ci < chunks; ++ci) {
      const int64_t g0 = ci * kChunkGroups, g1 = std::min(groups, g0 + kChunkGroups);
      split_chunk(a, x + r0 * w.k, nr, padded, w.k, g0, g1);
      amx_chunk(o, c, a, w, bp, gelu, nr, padded,
                {.g0 = g0, .groups = g1 - g0, .first = ci == 0, .last = ci == chunks - 1});
    }
    release_tiles();
  }
}

#else  // no AMX in this build

bool bf16x3_usable() { return false; }
void bf16x3_linear_forward(float*, const float*, const SplitWeight&, const float*, int64_t,
                           SplitScratch&, bool) {
  fail("[bf16x3] this build has no AMX kernel");
}

#endif

}  // namespace sbert::cpu
