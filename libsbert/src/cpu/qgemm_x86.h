// What the x86 int8 kernels of cpu/qgemm.cpp and cpu/qgemm_amx.cpp share: the packed weight's
// panel width, and the epilogue in AVX-512 form (the scalar store_tile()'s operations in the
// same order, so every path gives the same float bits).
#pragma once

#include <cstdint>

#include "cpu/qgemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SBERT_QGEMM_X86 1
#else
#define SBERT_QGEMM_X86 0
#endif

namespace sbert::cpu {

inline constexpr int64_t kQPanel = 16;  // columns per packed weight panel (QWeight::packed)

#if SBERT_QGEMM_X86
#define SBERT_VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni"
// out[j] = float(acc[j]) * (xs * ws[j]) (+ b[j]) for the lanes of m: the int -> float rounding
// to nearest, (xs * ws), multiply, add, as store_tile().
[[gnu::target(SBERT_VNNI_TARGET)]] [[gnu::always_inline]] inline void vnni_store(
    float* o, __m512i acc, __m512 xs, const float* ws, const float* b, __mmask16 m) {
  const __m512 t = _mm512_mul_ps(xs, _mm512_maskz_loadu_ps(m, ws));
  // maskz: GCC 12 warns on the _mm512_undefined_ps inside the unmasked form.
  __m512 v = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(__mmask16(0xffff), acc), t);
  if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b));
  _mm512_mask_storeu_ps(o, m, v);
}

// The store masks of a 32-column tile with nc (<= 32) valid columns: its two 16-lane halves.
struct TileMasks {
  __mmask16 lo, hi;
};
inline TileMasks tile_masks(int64_t nc) {
  return {nc >= 16 ? __mmask16(0xffff) : __mmask16((1u << nc) - 1),
          nc >= 32  ? __mmask16(0xffff)
          : nc > 16 ? __mmask16((1u << (nc - 16)) - 1)
                    : __mmask16(0)};
}

// The AMX kernels' tile shape (cpu/qgemm_amx.cpp, cpu/gemm_bf16x3.cpp): tiles 0-7 of 16 rows x
// 64 bytes, palette 1, loaded into the tile configuration of the calling thread.
[[gnu::target("amx-tile")]] inline void configure_tiles_16x64() {
  struct alignas(64) {
    uint8_t palette_id = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  // GCC 12 does not see LDTILECFG read cfg and may drop the stores above (seen: SIGILL at the
  // first tile instruction); the barrier makes them visible.
  asm volatile("" : : "m"(cfg) : "memory");
  _tile_loadconfig(&cfg);
}
#endif

// ---- qgemm_amx.cpp --------------------------------------------------------------------------
// Whether this process can run AMX int8 tiles: the CPU has AMX-TILE and AMX-INT8, the OS saves
// the tile state (XCR0), and Linux granted the process the tile data (arch_prctl
// ARCH_REQ_XCOMP_PERM, asked here; the grant is for the whole process and idempotent).
bool amx_int8_usable();
// The AMX kernel needs k padded to whole 64-byte tile rows.
inline bool amx_fits(const QWeight& w) { return w.kp % 64 == 0; }
// rows x w.n of out (row stride w.n) from xq (rows, w.kp) signed int8 with row stride w.kp,
// whose memory extends to a multiple of 32 rows (those rows are read, their results dropped).
void amx_block(float* out, const int8_t* xq, const float* xscale, const QWeight& w,
               const float* bias, int64_t rows);

}  // namespace sbert::cpu
