// The AMX path of cpu/qgemm.h (Sapphire Rapids and later): TDPBSSD multiplies 16 x 64 signed
// bytes of activations by 64 x 16 signed bytes of weights into 16 x 16 int32 sums, exactly, as
// one instruction. The weight panels (QWeight::packed: 16 columns, 4 consecutive k per column,
// 64 bytes per group of 4 k) are already the B tile's layout, so nothing is repacked.
//
// Blocking: tiles 0, 1 hold 32 activation rows, tiles 2, 3 two weight panels (32 columns),
// tiles 4-7 the 32 x 32 int32 sums over the whole k; those are stored to the stack and scaled by
// the shared epilogue (vnni_store), so the floats are every other path's bits.
#include <algorithm>

#include "core/check.h"
#include "cpu/qgemm_x86.h"

#if SBERT_QGEMM_X86 && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SBERT_QGEMM_AMX 1
#else
#define SBERT_QGEMM_AMX 0
#endif

namespace sbert::cpu {

#if SBERT_QGEMM_AMX

namespace {

// Linux's dynamic feature permission (asm/prctl.h, uapi since 5.16); the tile data state.
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

}  // namespace

bool amx_int8_usable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 25))) return false;  // AMX-TILE, AMX-INT8
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  uint32_t lo = 0, hi = 0;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG, XTILEDATA enabled by the OS
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

[[gnu::target(SBERT_VNNI_TARGET ",amx-tile,amx-int8")]] void amx_block(float* out,
                                                                      const int8_t* xq,
                                                                      const float* xscale,
                                                                      const QWeight& w,
                                                                      const float* bias,
                                                                      int64_t rows) {
  configure_tiles_16x64();
  alignas(64) int32_t sums[32 * 32];  // (32 rows, 32 columns)
  const int64_t kb = w.kp / 64, panel_bytes = w.kp * kQPanel, lda = w.kp;
  for (int64_t j0 = 0; j0 < w.n; j0 += 2 * kQPanel) {
    const int64_t nc = std::min<int64_t>(2 * kQPanel, w.n - j0);
    const int8_t* b0 = w.packed.data() + (j0 / kQPanel) * panel_bytes;
    const int8_t* b1 = b0 + panel_bytes;
    const auto [m0, m1] = tile_masks(nc);
    const float* ws = w.scale.data() + j0;
    const float* bj = bias ? bias + j0 : nullptr;
    for (int64_t r = 0; r < rows; r += 32) {
      const int8_t* a = xq + r * lda;
      _tile_zero(4);
      _tile_zero(5);
      _tile_zero(6);
      _tile_zero(7);
      for (int64_t t = 0; t < kb; ++t) {
        _tile_loadd(0, a + t * 64, lda);
        _tile_loadd(1, a + 16 * lda + t * 64, lda);
        _tile_loadd(2, b0 + t * 1024, 64);
        _tile_loadd(3, b1 + t * 1024, 64);
        _tile_dpbssd(4, 0, 2);
        _tile_dpbssd(5, 0, 3);
        _tile_dpbssd(6, 1, 2);
        _tile_dpbssd(7, 1, 3);
      }
      _tile_stored(4, sums, 128);
      _tile_stored(5, sums + 16, 128);
      _tile_stored(6, sums + 16 * 32, 128);
      _tile_stored(7, sums + 16 * 32 + 16, 128);
      const int64_t mr = std::min<int64_t>(32, rows - r);
      for (int64_t i = 0; i < mr; ++i) {
        const __m512 xs = _mm512_set1_ps(xscale[r + i]);
        float* o = out + (r + i) * w.n + j0;
        vnni_store(o, _mm512_load_si512(sums + i * 32), xs, ws, bj, m0);
        if (m1) {
          vnni_store(o + 16, _mm512_load_si512(sums + i * 32 + 16), xs, ws + 16,
                     bj ? bj + 16 : nullptr, m1);
        }
      }
    }
  }
  _tile_release();
}

#else  // no AMX in this build

bool amx_int8_usable() { return false; }
void amx_block(float*, const int8_t*, const float*, const QWeight&, const float*, int64_t) {
  fail("[qlinear] this build has no AMX kernel");
}

#endif

}  // namespace sbert::cpu
