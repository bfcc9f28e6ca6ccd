// The tensor-core and async-copy wrappers of simt/mma.cuh under the SIMT emulator: mma.sync
// m16n8k16 bf16 with fragments loaded by the PTX ISA layouts (directly and through ldmatrix),
// every ldmatrix variant against the documented register layout, a 64x64x64 GEMM over four
// warps per block staging tiles with cp.async (double-buffered), and the cp.async semantics a
// kernel can observe (the destination keeps its old contents until the wait; the race detector
// sees the copy at the wait). Compiled in EMU builds only: a .cu file of tests/cuda/ is an
// emulated kernel source (tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#ifdef SBERT_SIMT_EMU
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "simt/bf16.cuh"
#include "simt/emu/core.h"
#include "simt/mma.cuh"
#include "simt/portable.cuh"

namespace {

using bf16 = __nv_bfloat16;

// ---- kernels -------------------------------------------------------------------------------

// A: 16x16 row-major; Bc: 16x8 column-major (B(k, n) at Bc[n * 16 + k]); C, D: 16x8 row-major.
__global__ void mma_direct_kernel(const bf16* A, const bf16* Bc, const float* C, float* D) {
  const int lane = static_cast<int>(threadIdx.x % 32), g = lane >> 2, k = 2 * (lane & 3);
  uint32_t a[4], b[2];
  a[0] = simt::pack_bf16x2(A[g * 16 + k], A[g * 16 + k + 1]);
  a[1] = simt::pack_bf16x2(A[(g + 8) * 16 + k], A[(g + 8) * 16 + k + 1]);
  a[2] = simt::pack_bf16x2(A[g * 16 + k + 8], A[g * 16 + k + 9]);
  a[3] = simt::pack_bf16x2(A[(g + 8) * 16 + k + 8], A[(g + 8) * 16 + k + 9]);
  b[0] = simt::pack_bf16x2(Bc[g * 16 + k], Bc[g * 16 + k + 1]);
  b[1] = simt::pack_bf16x2(Bc[g * 16 + k + 8], Bc[g * 16 + k + 9]);
  const float c[4] = {C[g * 8 + k], C[g * 8 + k + 1], C[(g + 8) * 8 + k], C[(g + 8) * 8 + k + 1]};
  float d[4];
  simt::mma_m16n8k16_bf16(d, a, b, c);
  D[g * 8 + k] = d[0];
  D[g * 8 + k + 1] = d[1];
  D[(g + 8) * 8 + k] = d[2];
  D[(g + 8) * 8 + k + 1] = d[3];
}

struct alignas(16) MmaTiles {
  bf16 a[16 * 16];  // row-major
  bf16 bc[8 * 16];  // B column-major: row n holds B(0..15, n)
  bf16 br[16 * 8];  // B row-major: row k holds B(k, 0..7)
};

// As mma_direct_kernel, the fragments through ldmatrix from shared memory: A with .x4, B with
// .x2 from its column-major copy and with .x2.trans from its row-major copy. D1, D2: the two
// results; same[lane]: whether both B fragments were bitwise equal.
__global__ void mma_ldmatrix_kernel(const bf16* A, const bf16* Bc, const bf16* Br, const float* C,
                                    float* D1, float* D2, int* same) {
  SIMT_SHARED(t, MmaTiles);
  const int lane = static_cast<int>(threadIdx.x % 32), g = lane >> 2, k = 2 * (lane & 3);
  // Two bf16 per store: the race detector keeps one entry per 4-byte word, so neighbouring
  // 2-byte stores of different threads would be reported as a race.
  const auto pairs = [](const bf16* p) { return reinterpret_cast<const __nv_bfloat162*>(p); };
  const auto pairs_out = [](bf16* p) { return reinterpret_cast<__nv_bfloat162*>(p); };
  for (int i = lane; i < 128; i += 32) pairs_out(t.a)[i] = pairs(A)[i];
  for (int i = lane; i < 64; i += 32) {
    pairs_out(t.bc)[i] = pairs(Bc)[i];
    pairs_out(t.br)[i] = pairs(Br)[i];
  }
  __syncthreads();
  uint32_t a[4], b[2], bt[2];
  // Matrices 0..3 = A rows 0-7 / 8-15 at columns 0-7, then the same at columns 8-15.
  simt::ldmatrix_x4(a, &t.a[(lane % 16) * 16 + (lane / 16) * 8]);
  // Matrix 0 = rows n 0-7, k 0-7 of the column-major B; matrix 1 = k 8-15.
  simt::ldmatrix_x2(b, &t.bc[(lane % 8) * 16 + ((lane / 8) % 2) * 8]);
  // Matrix 0 = rows k 0-7 of the row-major B, matrix 1 = rows k 8-15, each transposed.
  simt::ldmatrix_x2_trans(bt, &t.br[(lane % 16) * 8]);
  same[lane] = b[0] == bt[0] && b[1] == bt[1];
  const float c[4] = {C[g * 8 + k], C[g * 8 + k + 1], C[(g + 8) * 8 + k], C[(g + 8) * 8 + k + 1]};
  float d[4];
  simt::mma_m16n8k16_bf16(d, a, b, c);
  D1[g * 8 + k] = d[0], D1[g * 8 + k + 1] = d[1];
  D1[(g + 8) * 8 + k] = d[2], D1[(g + 8) * 8 + k + 1] = d[3];
  simt::mma_m16n8k16_bf16(d, a, bt, c);
  D2[g * 8 + k] = d[0], D2[g * 8 + k + 1] = d[1];
  D2[(g + 8) * 8 + k] = d[2], D2[(g + 8) * 8 + k + 1] = d[3];
}

struct alignas(16) Rows {
  uint16_t v[32][8];  // 4 matrices of 8x8: row r of matrix i at v[8 i + r]
};

// Every ldmatrix variant on v = 64 i + 8 r + c: out[(variant * 32 + lane) * 4 + reg].
__global__ void ldmatrix_layout_kernel(uint32_t* out) {
  SIMT_SHARED(m, Rows);
  const int lane = static_cast<int>(threadIdx.x % 32);
  for (int c = 0; c < 8; ++c) m.v[lane][c] = static_cast<uint16_t>(8 * lane + c);
  __syncwarp();
  uint32_t r[6][4] = {};
  const void* row = &m.v[lane][0];
  simt::ldmatrix_x1(r[0], row);
  simt::ldmatrix_x2(r[1], row);
  simt::ldmatrix_x4(r[2], row);
  simt::ldmatrix_x1_trans(r[3], row);
  simt::ldmatrix_x2_trans(r[4], row);
  simt::ldmatrix_x4_trans(r[5], row);
  for (int v = 0; v < 6; ++v) {
    for (int i = 0; i < 4; ++i) out[(v * 32 + lane) * 4 + i] = r[v][i];
  }
}

// 64x64x64: D = A Bt^T, A row-major M x K, Bt row-major N x K (B column-major), D row-major.
// Blocks of 4 warps compute 32x32 tiles (each warp 16x16: two m16n8k16 per k step); k tiles of 16
// are staged by cp.async in two buffers, the next one in flight while the current is used.
constexpr int kM = 64, kN = 64, kK = 64, kBM = 32, kBN = 32, kBK = 16;
constexpr size_t kGemmSmem = 2 * (kBM + kBN) * kBK * sizeof(bf16);

__global__ void gemm_kernel(const bf16* A, const bf16* Bt, float* D) {
  SIMT_DYNAMIC_SHARED(bf16, smem);
  bf16* const sa = smem;                   // [2][kBM][kBK]
  bf16* const sb = smem + 2 * kBM * kBK;   // [2][kBN][kBK]
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int m0 = static_cast<int>(blockIdx.y) * kBM, n0 = static_cast<int>(blockIdx.x) * kBN;
  // One 16-byte chunk per thread: threads 0-63 the A tile, 64-127 the B tile (32 rows x 2).
  auto load = [&](int stage, int kt) {
    const int c = tid % 64, row = c / 2, half = c % 2;
    if (tid < 64) {
      simt::cp_async_16(&sa[(stage * kBM + row) * kBK + half * 8],
                        &A[(m0 + row) * kK + kt * kBK + half * 8]);
    } else {
      simt::cp_async_16(&sb[(stage * kBN + row) * kBK + half * 8],
                        &Bt[(n0 + row) * kK + kt * kBK + half * 8]);
    }
  };
  float acc[2][4] = {};
  const int wm = (warp / 2) * 16, wn = (warp % 2) * 16;
  constexpr int nk = kK / kBK;
  load(0, 0);
  simt::cp_async_commit();
  for (int kt = 0; kt < nk; ++kt) {
    if (kt + 1 < nk) load((kt + 1) % 2, kt + 1);
    simt::cp_async_commit();  // possibly empty: wait<1> then always means "all but the next"
    simt::cp_async_wait<1>();
    __syncthreads();
    const bf16* a = sa + (kt % 2) * kBM * kBK;
    const bf16* b = sb + (kt % 2) * kBN * kBK;
    uint32_t af[4], bfr[4];
    simt::ldmatrix_x4(af, &a[(wm + lane % 16) * kBK + (lane / 16) * 8]);
    // Matrices: n 0-7 k 0-7, n 0-7 k 8-15, n 8-15 k 0-7, n 8-15 k 8-15 of the warp's columns.
    simt::ldmatrix_x4(bfr, &b[(wn + (lane / 16) * 8 + lane % 8) * kBK + ((lane / 8) % 2) * 8]);
    simt::mma_m16n8k16_bf16(acc[0], af, &bfr[0], acc[0]);
    simt::mma_m16n8k16_bf16(acc[1], af, &bfr[2], acc[1]);
    __syncthreads();  // the buffer just read is refilled by the next iteration's copies
  }
  const int g = lane >> 2, k = 2 * (lane & 3);
  for (int j = 0; j < 2; ++j) {
    const int n = n0 + wn + j * 8 + k, m = m0 + wm + g;
    D[m * kN + n] = acc[j][0];
    D[m * kN + n + 1] = acc[j][1];
    D[(m + 8) * kN + n] = acc[j][2];
    D[(m + 8) * kN + n + 1] = acc[j][3];
  }
}

// cp.async's destination before and between waits: two groups, one word per thread each.
__global__ void cp_async_stale_kernel(const uint32_t* src, uint32_t* before, uint32_t* partial,
                                      uint32_t* after) {
  SIMT_SHARED(s, uint32_t[2][32]);
  const int i = static_cast<int>(threadIdx.x);
  s[0][i] = 0xdead0000u + static_cast<uint32_t>(i);
  s[1][i] = 0xbeef0000u + static_cast<uint32_t>(i);
  simt::cp_async_4(&s[0][i], &src[i]);
  simt::cp_async_commit();
  simt::cp_async_4(&s[1][i], &src[32 + i]);
  simt::cp_async_commit();
  before[i] = s[0][i];  // a bug in a real kernel: nothing says the copy has landed
  simt::cp_async_wait<1>();
  partial[2 * i] = s[0][i];
  partial[2 * i + 1] = s[1][i];
  simt::cp_async_wait<0>();
  after[i] = s[1][i];
}

// Threads 0-15 copy 8 bytes into each 16-byte quarter of s (the rest zero-filled); every thread
// i then reads s[(i + 32) % 64] after its own wait but with no __syncthreads: a race, since the
// word is another thread's copy, which lands at that thread's wait. After the barrier, out[64 +
// i] = s[i] is well defined.
__global__ void cp_async_race_kernel(const uint32_t* src, uint32_t* out) {
  SIMT_SHARED(s, uint32_t[64]);
  const int i = static_cast<int>(threadIdx.x);
  if (i < 16) simt::cp_async_16_zfill(&s[4 * i], &src[4 * i], 8);
  simt::cp_async_wait_all();
  out[i] = s[(i + 32) % 64];
  __syncthreads();
  out[64 + i] = s[i];
}

// ldmatrix given global memory: a GPU's behaviour is undefined; the emulator reports it.
__global__ void ldmatrix_global_kernel(const bf16* A, uint32_t* out) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  uint32_t r[1];
  simt::ldmatrix_x1(r, &A[(lane % 8) * 8]);
  out[lane] = r[0];
}

// ---- host side -----------------------------------------------------------------------------

template <class T>
struct Dev {
  explicit Dev(size_t count) : n(count) { REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    REQUIRE(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> h(n);
    REQUIRE(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
  T* p = nullptr;
  size_t n;
};

std::vector<bf16> random_bf16(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<bf16> v(n);
  for (bf16& x : v) x = __float2bfloat16(dist(gen));
  return v;
}

// D(m, n) = C(m, n) + sum_k A(m, k) B(k, n) in double, and the scale sum |C| + sum |A B| the
// fp32 accumulation error is relative to. at(m, k) / bt(k, n) read A and B.
template <class FA, class FB>
void reference(int M, int N, int K, FA at, FB bt, const std::vector<float>& C,
               std::vector<double>& ref, std::vector<double>& scale) {
  ref.assign(static_cast<size_t>(M * N), 0.0);
  scale.assign(static_cast<size_t>(M * N), 0.0);
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      const size_t i = static_cast<size_t>(m * N + n);
      double s = C.empty() ? 0.0 : static_cast<double>(C[i]);
      double mag = std::fabs(s);
      for (int k = 0; k < K; ++k) {
        const double p = static_cast<double>(at(m, k)) * static_cast<double>(bt(k, n));
        s += p;
        mag += std::fabs(p);
      }
      ref[i] = s;
      scale[i] = mag;
    }
  }
}

// |got - ref| <= 1e-5 (sum of magnitudes) + 1e-30: the products are exact in fp32; only the
// rounding of K additions in fp32 separates the emulator (or a tensor core) from the reference.
void check_gemm(const std::vector<float>& got, const std::vector<double>& ref,
                const std::vector<double>& scale) {
  REQUIRE(got.size() == ref.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = std::fabs(static_cast<double>(got[i]) - ref[i]) / (1e-5 * scale[i] + 1e-30);
    if (!(r <= worst)) worst = r, at = i;
  }
  INFO("worst element " << at << ": got " << got[at] << ", reference " << ref[at]
                        << ", error / tolerance " << worst);
  CHECK(worst <= 1.0);
}

bool any_report_contains(const std::vector<simt::emu::Report>& reports, const std::string& what) {
  for (const auto& r : reports) {
    if (r.message.find(what) != std::string::npos) return true;
  }
  return false;
}

void clear_state() {
  simt::emu::take_reports();
  (void)cudaGetLastError();
}

}  // namespace

TEST_CASE("emu mma: m16n8k16 bf16 with fragments loaded by the PTX layouts", "[cuda][mma]") {
  clear_state();
  const auto A = random_bf16(256, 1), Bc = random_bf16(128, 2);
  std::vector<float> C(128);
  for (size_t i = 0; i < C.size(); ++i) C[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
  Dev<bf16> dA(A), dB(Bc);
  Dev<float> dC(C), dD(128);
  simt::launch<mma_direct_kernel>({1, 32, 0, nullptr}, dA.p, dB.p, dC.p, dD.p);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  CHECK(simt::emu::take_reports().empty());
  std::vector<double> ref, scale;
  reference(
      16, 8, 16, [&](int m, int k) { return __bfloat162float(A[static_cast<size_t>(m * 16 + k)]); },
      [&](int k, int n) { return __bfloat162float(Bc[static_cast<size_t>(n * 16 + k)]); }, C, ref,
      scale);
  check_gemm(dD.get(), ref, scale);
}

TEST_CASE("emu mma: fragments through ldmatrix (.x4 for A, .x2 and .x2.trans for B)",
          "[cuda][mma]") {
  clear_state();
  const auto A = random_bf16(256, 3), Bc = random_bf16(128, 4);
  std::vector<bf16> Br(128);
  for (int k = 0; k < 16; ++k) {
    for (int n = 0; n < 8; ++n) Br[static_cast<size_t>(k * 8 + n)] = Bc[static_cast<size_t>(n * 16 + k)];
  }
  std::vector<float> C(128, 1.0f);
  Dev<bf16> dA(A), dBc(Bc), dBr(Br);
  Dev<float> dC(C), dD1(128), dD2(128);
  Dev<int> dSame(32);
  simt::launch<mma_ldmatrix_kernel>({1, 32, 0, nullptr}, dA.p, dBc.p, dBr.p, dC.p, dD1.p, dD2.p,
                                    dSame.p);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  CHECK(simt::emu::take_reports().empty());
  std::vector<double> ref, scale;
  reference(
      16, 8, 16, [&](int m, int k) { return __bfloat162float(A[static_cast<size_t>(m * 16 + k)]); },
      [&](int k, int n) { return __bfloat162float(Bc[static_cast<size_t>(n * 16 + k)]); }, C, ref,
      scale);
  check_gemm(dD1.get(), ref, scale);
  check_gemm(dD2.get(), ref, scale);
  for (int s : dSame.get()) CHECK(s == 1);
}

TEST_CASE("emu mma: ldmatrix x1/x2/x4 and .trans give the PTX ISA register layout",
          "[cuda][mma]") {
  clear_state();
  Dev<uint32_t> out(6 * 32 * 4);
  REQUIRE(cudaMemset(out.p, 0, out.n * sizeof(uint32_t)) == cudaSuccess);
  simt::launch<ldmatrix_layout_kernel>({1, 32, 0, nullptr}, out.p);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  CHECK(simt::emu::take_reports().empty());
  const auto got = out.get();
  const int nums[6] = {1, 2, 4, 1, 2, 4};
  for (int v = 0; v < 6; ++v) {
    const bool trans = v >= 3;
    for (int lane = 0; lane < 32; ++lane) {
      for (int i = 0; i < 4; ++i) {
        uint32_t want = 0;  // registers past .num are left as they were (0)
        if (i < nums[v]) {
          // Element (r, c) of matrix i holds 64 i + 8 r + c.
          const int row = lane / 4, col = 2 * (lane % 4);
          const auto elem = [&](int r, int c) { return static_cast<uint32_t>(64 * i + 8 * r + c); };
          want = trans ? elem(col, row) | elem(col + 1, row) << 16
                       : elem(row, col) | elem(row, col + 1) << 16;
        }
        INFO("variant " << v << " lane " << lane << " register " << i);
        CHECK(got[static_cast<size_t>((v * 32 + lane) * 4 + i)] == want);
      }
    }
  }
}

TEST_CASE("emu mma: 64x64x64 GEMM over 4 warps per block, cp.async double buffering",
          "[cuda][mma]") {
  clear_state();
  const auto A = random_bf16(kM * kK, 5), Bt = random_bf16(kN * kK, 6);
  Dev<bf16> dA(A), dB(Bt);
  Dev<float> dD(kM * kN);
  simt::launch<gemm_kernel>({dim3(kN / kBN, kM / kBM), 128, kGemmSmem, nullptr}, dA.p, dB.p, dD.p);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  CHECK(simt::emu::take_reports().empty());
  std::vector<double> ref, scale;
  reference(
      kM, kN, kK, [&](int m, int k) { return __bfloat162float(A[static_cast<size_t>(m * kK + k)]); },
      [&](int k, int n) { return __bfloat162float(Bt[static_cast<size_t>(n * kK + k)]); }, {}, ref,
      scale);
  check_gemm(dD.get(), ref, scale);
}

TEST_CASE("emu mma: cp.async lands at the wait that covers its group", "[cuda][mma]") {
  clear_state();
  std::vector<uint32_t> src(64);
  for (uint32_t i = 0; i < 64; ++i) src[i] = 1000u + i;
  Dev<uint32_t> dSrc(src), before(32), partial(64), after(32);
  simt::launch<cp_async_stale_kernel>({1, 32, 0, nullptr}, dSrc.p, before.p, partial.p, after.p);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  CHECK(simt::emu::take_reports().empty());
  const auto b = before.get(), p = partial.get(), a = after.get();
  for (uint32_t i = 0; i < 32; ++i) {
    INFO("thread " << i);
    CHECK(b[i] == 0xdead0000u + i);         // before any wait: the old contents
    CHECK(p[2 * i] == 1000u + i);           // wait<1>: the older group has landed ...
    CHECK(p[2 * i + 1] == 0xbeef0000u + i);  // ... the newest one not yet
    CHECK(a[i] == 1032u + i);               // wait<0>: everything
  }
}

TEST_CASE("emu mma: a read of another thread's cp.async destination without a barrier races",
          "[cuda][mma]") {
  clear_state();
  std::vector<uint32_t> src(64, 7u);
  Dev<uint32_t> dSrc(src), out(128);
  simt::launch<cp_async_race_kernel>({1, 64, 0, nullptr}, dSrc.p, out.p);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
  const auto reports = simt::emu::take_reports();
  CHECK(any_report_contains(reports, "[racecheck]"));
  const auto o = out.get();
  for (int i = 0; i < 64; ++i) CHECK(o[static_cast<size_t>(64 + i)] == (i % 4 < 2 ? 7u : 0u));
}

TEST_CASE("emu mma: ldmatrix of global memory is reported", "[cuda][mma]") {
  clear_state();
  Dev<bf16> dA(random_bf16(64, 7));
  Dev<uint32_t> out(32);
  simt::launch<ldmatrix_global_kernel>({1, 32, 0, nullptr}, dA.p, out.p);
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);
  const auto reports = simt::emu::take_reports();
  CHECK(any_report_contains(reports, "ldmatrix"));
  CHECK(any_report_contains(reports, "not in shared memory"));
}

#endif  // SBERT_SIMT_EMU
