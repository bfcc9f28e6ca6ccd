// The driver of cpu/gemm_packed.h: packing, cache blocking, the split over threads, dispatch.
//
// Loops (BLIS order), per thread over its own rows or columns of C:
//   jc over op(B) columns in nc blocks; pc over k in kc blocks;
//     ic over rows in mc blocks: pack op(A) (mc, kc) into mr-row panels (L2);
//       jr over nr-column panels of B (the (kc, nr) slice stays in L1 across ir);
//         ir over mr-row panels of A: kernel on one (mr, nr) tile.
// The k blocks add into C in order (kernel with load_c after the first), the epilogue runs on
// each tile after the last one.
#include "cpu/gemm_packed.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "cpu/gemm_kernels.h"

namespace sbert::cpu {

using gemm_detail::Kernels;

namespace {

const Kernels& kernels_for(GemmIsa isa) {
  // Built once; the tables are constants.
  static const Kernels generic = gemm_detail::kernels_generic();
  static const Kernels avx2 = gemm_detail::kernels_avx2();
  static const Kernels avx512 = gemm_detail::kernels_avx512();
  switch (isa) {
    case GemmIsa::Avx512:
      return avx512;
    case GemmIsa::Avx2:
      return avx2;
    case GemmIsa::Generic:
      break;
  }
  return generic;
}

GemmIsa detect_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return GemmIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::Avx2;
#endif
  return GemmIsa::Generic;
}

float* aligned_floats(int64_t count) {
  const size_t bytes =
      (static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  SBERT_CHECK(p != nullptr, "[gemm] cannot allocate ", bytes, " bytes for packed panels");
  return p;
}

// op(A) rows [i0, i0 + rows) x k range [p0, p0 + kc) into mr-row panels (kc, mr), zero-padded.
void pack_a(float* dst, bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t rows,
            int64_t p0, int64_t kc, int mr) {
  for (int64_t ir = 0; ir < rows; ir += mr) {
    const int h = static_cast<int>(std::min<int64_t>(mr, rows - ir));
    float* panel = dst + ir * kc;
    if (trans_a) {
      // A (k, m): the mr values of one step are contiguous.
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + i0 + ir;
        float* out = panel + p * mr;
        int i = 0;
        for (; i < h; ++i) out[i] = src[i];
        for (; i < mr; ++i) out[i] = 0.0f;
      }
    } else {
      for (int i = 0; i < h; ++i) {
        const float* src = a + (i0 + ir + i) * lda + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + i] = src[p];
      }
      for (int i = h; i < mr; ++i) {
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + i] = 0.0f;
      }
    }
  }
}

}  // namespace

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Avx512:
      return "avx512";
    case GemmIsa::Avx2:
      return "avx2";
    case GemmIsa::Generic:
      break;
  }
  return "generic";
}

GemmIsa gemm_best_isa() {
  static const GemmIsa best = detect_isa();
  return best;
}

bool gemm_isa_supported(GemmIsa isa) {
  const GemmIsa best = gemm_best_isa();
  switch (isa) {
    case GemmIsa::Avx512:
      return best == GemmIsa::Avx512;
    case GemmIsa::Avx2:
      return best == GemmIsa::Avx512 || best == GemmIsa::Avx2;
    case GemmIsa::Generic:
      break;
  }
  return true;
}

void PackedB::Free::operator()(float* p) const { std::free(p); }

PackedB::PackedB(GemmIsa isa, bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb)
    : isa_(isa), k_(k), n_(n) {
  SBERT_CHECK(gemm_isa_supported(isa), "[gemm] this CPU does not support the ", gemm_isa_name(isa),
              " kernel");
  SBERT_CHECK(k >= 0 && n >= 0, "[gemm] packing a (", k, ", ", n, ") matrix");
  nr_ = kernels_for(isa).blk.nr;
  const int nr = nr_;
  const int64_t panels = (n + nr - 1) / nr;
  data_.reset(aligned_floats(panels * k * nr));
  float* base = data_.get();
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && panels * k * nr > 65536)
  for (int64_t jp = 0; jp < panels; ++jp) {
    float* dst = base + jp * k * nr;
    const int64_t j0 = jp * nr;
    const int w = static_cast<int>(std::min<int64_t>(nr, n - j0));
    if (trans_b) {
      // B (n, k): column j of op(B) is row j of B; transpose a (w, k) strip.
      for (int j = 0; j < w; ++j) {
        const float* src = b + (j0 + j) * ldb;
        for (int64_t p = 0; p < k; ++p) dst[p * nr + j] = src[p];
      }
    } else {
      for (int64_t p = 0; p < k; ++p)
        std::memcpy(dst + p * nr, b + p * ldb + j0, sizeof(float) * w);
    }
    if (w < nr) {
      for (int64_t p = 0; p < k; ++p) std::fill(dst + p * nr + w, dst + p * nr + nr, 0.0f);
    }
  }
}

namespace {

// C rows [r0, r1) x columns [c0, c1) on the calling thread.
// k in equal blocks of at most blk.kc: one pass over C per block, so fewer, even blocks beat
// a full block and a short remainder.
int64_t block_k(const Kernels& kn, int64_t k) {
  if (k <= 0) return 1;
  const int64_t blocks = (k + kn.blk.kc - 1) / kn.blk.kc;
  return (k + blocks - 1) / blocks;
}

// abuf: room for (mc, kc) floats of packed op(A).
void gemm_block(const Kernels& kn, bool trans_a, const float* a, int64_t lda, const PackedB& b,
                bool accumulate, float* c, int64_t ldc, const GemmEpilogue& ep, int64_t r0,
                int64_t r1, int64_t c0, int64_t c1, float* abuf) {
  const int mr = kn.blk.mr, nr = kn.blk.nr;
  const int64_t k = b.k();
  const int64_t kc_max = block_k(kn, k);
  const int64_t mc_max = kn.blk.mc;
  alignas(64) float tile[32 * 32] = {};  // edge tiles: mr x nr <= 32 x 32
  const bool has_epilogue = ep.bias || ep.gelu || ep.residual;
  for (int64_t jc = c0; jc < c1; jc += kn.blk.nc) {
    const int64_t jc1 = std::min(c1, jc + kn.blk.nc);
    // k == 0: C = epilogue(0 [+ C]), through one empty k block.
    for (int64_t pc = 0; pc < std::max<int64_t>(k, 1); pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      const bool load_c = accumulate || pc > 0;
      const bool last = pc + kc_max >= k;
      for (int64_t ic = r0; ic < r1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, r1 - ic);
        pack_a(abuf, trans_a, a, lda, ic, mc, pc, kc, mr);
        for (int64_t jr = jc; jr < jc1; jr += nr) {
          const int w = static_cast<int>(std::min<int64_t>(nr, jc1 - jr));
          // jr is a multiple of nr (c0 and nc are), so it starts panel jr / nr.
          const float* bp = b.panel(jr / nr) + pc * nr;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int h = static_cast<int>(std::min<int64_t>(mr, mc - ir));
            const float* ap = abuf + ir * kc;
            float* ct = c + (ic + ir) * ldc + jr;
            if (h == mr && w == nr) {
              kn.kernel(kc, ap, bp, ct, ldc, load_c);
            } else {
              if (load_c) {
                for (int i = 0; i < h; ++i)
                  std::memcpy(tile + i * nr, ct + i * ldc, sizeof(float) * w);
              }
              kn.kernel(kc, ap, bp, tile, nr, load_c);
              for (int i = 0; i < h; ++i)
                std::memcpy(ct + i * ldc, tile + i * nr, sizeof(float) * w);
            }
            if (last && has_epilogue) kn.epilogue(ct, ldc, h, w, ep, ic + ir, jr);
          }
        }
      }
    }
  }
}

constexpr double kMinFlopsPerThread = 4e6;  // below this a thread costs more than it saves

}  // namespace

void sgemm_packed(bool trans_a, int64_t m, const float* a, int64_t lda, const PackedB& b,
                  bool accumulate, float* c, int64_t ldc, const GemmEpilogue& ep) {
  const int64_t n = b.n(), k = b.k();
  if (m <= 0 || n <= 0) return;
  SBERT_CHECK(ep.pre == nullptr || ep.gelu, "[gemm] a pre-activation output needs gelu");
  const Kernels& kn = kernels_for(b.isa());
  const int mr = kn.blk.mr, nr = kn.blk.nr;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) *
                       static_cast<double>(std::max<int64_t>(k, 1));
  int parts = omp_in_parallel() ? 1 : omp_get_max_threads();
  parts = std::max(1, std::min<int>(parts, static_cast<int>(flops / kMinFlopsPerThread)));
  // Split the side with more micro-tiles, on tile edges.
  const int64_t mt = (m + mr - 1) / mr, nt = (n + nr - 1) / nr;
  const bool split_rows = mt >= nt;
  const int64_t tiles = split_rows ? mt : nt;
  parts = static_cast<int>(std::min<int64_t>(parts, tiles));
  const int64_t abuf_floats = kn.blk.mc * block_k(kn, k);
  const std::unique_ptr<float[], PackedB::Free> abuf(aligned_floats(parts * abuf_floats));
  if (parts == 1) {
    gemm_block(kn, trans_a, a, lda, b, accumulate, c, ldc, ep, 0, m, 0, n, abuf.get());
    return;
  }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    const int64_t t0 = tiles * p / parts, t1 = tiles * (p + 1) / parts;
    float* buf = abuf.get() + p * abuf_floats;
    if (split_rows) {
      gemm_block(kn, trans_a, a, lda, b, accumulate, c, ldc, ep, t0 * mr, std::min(m, t1 * mr), 0,
                 n, buf);
    } else {
      gemm_block(kn, trans_a, a, lda, b, accumulate, c, ldc, ep, 0, m, t0 * nr,
                 std::min(n, t1 * nr), buf);
    }
  }
}

}  // namespace sbert::cpu
