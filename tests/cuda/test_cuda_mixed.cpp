// [cuda] The mixed-precision ops (Context::bf16, cuda/mixed.h) against their twins: the casts
// bit for bit against cpu/convert.h; the bf16 GEMMs against the fp32 CPU GEMM on bf16-rounded
// operands (the same products, fp32 accumulation: tight) and against the fp32 GEMM on the
// original operands within the bf16 bound of docs/kernels.md; the FFN's fused epilogues (GELU
// forward with its aux, dGELU with the bias gradient, BGRADB) against the unfused bf16 path
// with the same tanh GELU, and the fp32 erf path within their bounds; the bf16 weight copy (the
// GEMMs read it, bit for bit what a per-call cast gives, and never cast a weight); the
// attention through the bf16 kernels against the fp32 attention, and the fp32 fallback for head
// dims without a bf16 kernel. The same for 16-mixed (Context::fp16): the fp16 casts bit for bit
// over every fp16 value, the midpoints between them (ties to even), subnormals, overflow and
// NaN; the fp16 GEMMs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/context.h"
#include "core/dtype.h"
#include "cpu/convert.h"
#include "cuda/mixed.h"
#include "cuda/runtime.h"
#ifdef SBERT_SIMT_EMU
#include "cuda/runtime_impl.cuh"  // cuda::Blas (CUDA types: the emulator's headers here)
#endif
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace sbert::test {

namespace {

constexpr double kU = 1.0 / 256;     // bf16's unit roundoff (8 significant bits)
constexpr double kU16 = 1.0 / 2048;  // fp16's (11 significant bits)

struct Gpu {
  cuda::Runtime rt;
  Context ctx{Device::CUDA, 0, &rt, true};
  Context cpu{Device::CPU, 2, nullptr};
};

std::vector<float> host(const cuda::DeviceBuffer<float>& d, cuda::Runtime& rt) {
  rt.synchronize();
  return d.to_host();
}

std::vector<float> rounded(const std::vector<float>& x, bool fp16 = false) {
  std::vector<uint16_t> h(x.size());
  std::vector<float> r(x.size());
  if (fp16) {
    cpu::to_f16(h.data(), x.data(), static_cast<int64_t>(x.size()));
    cpu::from_f16(r.data(), h.data(), static_cast<int64_t>(x.size()));
  } else {
    cpu::to_bf16(h.data(), x.data(), static_cast<int64_t>(x.size()));
    cpu::from_bf16(r.data(), h.data(), static_cast<int64_t>(x.size()));
  }
  return r;
}

// |got - ref| <= 2 u sum_i |a_i| |b_i| + 1e-5 for every element: out (rows, n) = a (rows, k)
// . b (n, k)^T, the bound of one rounding of each operand (u: bf16's or fp16's unit roundoff).
void check_bf16_bound(const std::vector<float>& got, const std::vector<float>& ref,
                      const std::vector<float>& a, const std::vector<float>& b, int64_t rows,
                      int64_t k, int64_t n, const char* what, double u = kU) {
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        mag += std::fabs(static_cast<double>(a[static_cast<size_t>(r * k + i)]) *
                         static_cast<double>(b[static_cast<size_t>(j * k + i)]));
      }
      const size_t e = static_cast<size_t>(r * n + j);
      const double err = std::fabs(static_cast<double>(got[e]) - static_cast<double>(ref[e]));
      worst = std::max(worst, err / (2 * u * mag + 1e-5));
    }
  }
  INFO(what << ": worst error / bound = " << worst);
  CHECK(worst <= 1.0);
}

// Row-major (n, k) transpose of a (k, n) row-major matrix.
std::vector<float> transpose(const std::vector<float>& m, int64_t k, int64_t n) {
  std::vector<float> t(m.size());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j)
      t[static_cast<size_t>(j * k + i)] = m[static_cast<size_t>(i * n + j)];
  return t;
}

// x cast to 16 bits on the device and widened back (to, from), against the CPU's casts
// (cpu_to, cpu_from): the same bits both ways.
template <class To, class From, class CpuTo, class CpuFrom>
void check_casts_bitwise(Gpu& g, const std::vector<float>& x, To to, From from, CpuTo cpu_to,
                         CpuFrom cpu_from) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> want(x.size());
  cpu_to(want.data(), x.data(), n);
  auto X = on_device(x);
  cuda::DeviceBuffer<uint16_t> H(x.size());
  cuda::DeviceBuffer<float> back(x.size());
  to(H.get(), X.get(), n, g.rt);
  from(back.get(), H.get(), n, g.rt);
  g.rt.synchronize();
  CHECK(H.to_host() == want);
  std::vector<float> wide(x.size());
  cpu_from(wide.data(), want.data(), n);
  const std::vector<float> got = back.to_host();
  CHECK(std::memcmp(got.data(), wide.data(), got.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("cuda bf16 casts equal the CPU's bit for bit", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  std::vector<float> x = randn(1000, 7, 3.0f);
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 1.00390625f,
                  1.01171875f, 3.4e38f, 1e-40f}) {
    x.push_back(v);  // ties to even both ways, overflow to inf, subnormals, NaN
  }
  check_casts_bitwise(g, x, cuda::to_bf16, cuda::from_bf16, cpu::to_bf16, cpu::from_bf16);
}

TEST_CASE(
    "cuda bf16 matmul forward/backward: the fp32 GEMM of the rounded operands, and bf16's bound",
    "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t rows = 37, k = 64, n = 48;
  const auto x = randn(static_cast<size_t>(rows * k), 1);
  const auto w = randn(static_cast<size_t>(n * k), 2, 0.2f);
  const auto b = randn(static_cast<size_t>(n), 3);
  const auto dy = randn(static_cast<size_t>(rows * n), 4);
  const auto dw0 = randn(static_cast<size_t>(n * k), 5);
  const auto db0 = randn(static_cast<size_t>(n), 6);

  auto X = on_device(x), W = on_device(w), Bv = on_device(b), DY = on_device(dy);
  auto DW = on_device(dw0), DB = on_device(db0);
  cuda::DeviceBuffer<float> Y(static_cast<size_t>(rows * n)), DX(static_cast<size_t>(rows * k));
  ops::matmul_forward(g.ctx, {.out = Y.get(),
                              .inp = X.get(),
                              .weight = W.get(),
                              .bias = Bv.get(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.ctx, {.dinp = DX.get(),
                               .dweight = DW.get(),
                               .dbias = DB.get(),
                               .dout = DY.get(),
                               .inp = X.get(),
                               .weight = W.get(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  const auto y = host(Y, g.rt), dx = host(DX, g.rt), dw = host(DW, g.rt), db = host(DB, g.rt);

  // The twin: fp32 CPU GEMMs on the rounded operands (dbias: the dweight GEMM's BGRADB
  // epilogue, the fp32 column sums of the rounded dout).
  const auto xr = rounded(x), wr = rounded(w), dyr = rounded(dy);
  std::vector<float> ty(y.size()), tdx(dx.size()), tdw = dw0, tdb = db0;
  ops::matmul_forward(g.cpu, {.out = ty.data(),
                              .inp = xr.data(),
                              .weight = wr.data(),
                              .bias = b.data(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.cpu, {.dinp = tdx.data(),
                               .dweight = tdw.data(),
                               .dbias = tdb.data(),
                               .dout = dyr.data(),
                               .inp = xr.data(),
                               .weight = wr.data(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  const double rtol = 64 * kEpsF32;
  check_close(y, ty, 1e-5, rtol, "bf16 matmul out vs fp32 on rounded operands");
  check_close(dx, tdx, 1e-5, rtol, "bf16 matmul dinp vs fp32 on rounded operands");
  check_close(dw, tdw, 1e-5, rtol, "bf16 matmul dweight vs fp32 on rounded operands");
  check_close(db, tdb, 1e-5, rtol, "bf16 matmul dbias (BGRADB) vs fp32 sums of the rounded dout");

  // Without a dweight GEMM there is no epilogue: dbias is the fp32 sum of dout itself.
  auto DB2 = on_device(db0);
  ops::matmul_backward(g.ctx, {.dinp = DX.get(),
                               .dbias = DB2.get(),
                               .dout = DY.get(),
                               .inp = X.get(),
                               .weight = W.get(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  std::vector<float> tdb2 = db0;
  ops::matmul_backward(g.cpu,
                       {.dbias = tdb2.data(), .dout = dy.data(), .rows = rows, .k = k, .n = n});
  check_close(host(DB2, g.rt), tdb2, 1e-6, 4 * kEpsF32, "bf16 matmul dbias without dweight");

  // Against fp32 on the original operands: within one bf16 rounding of each operand.
  std::vector<float> fy(y.size()), fdx(dx.size()), fdw(dw.size(), 0.0f);
  ops::matmul_forward(g.cpu, {.out = fy.data(),
                              .inp = x.data(),
                              .weight = w.data(),
                              .bias = b.data(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.cpu, {.dinp = fdx.data(),
                               .dweight = fdw.data(),
                               .dout = dy.data(),
                               .inp = x.data(),
                               .weight = w.data(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  check_bf16_bound(y, fy, x, w, rows, k, n, "out");
  check_bf16_bound(dx, fdx, dy, transpose(w, n, k), rows, n, k, "dinp");
  std::vector<float> dw_new(dw.size());
  for (size_t i = 0; i < dw.size(); ++i) dw_new[i] = dw[i] - dw0[i];
  check_bf16_bound(dw_new, fdw, transpose(dy, rows, n), transpose(x, rows, k), n, rows, k,
                   "dweight");
  // dbias: one rounding of each dout, u sum_r |dout_rj| (+ 1e-5).
  std::vector<float> fdb(db.size(), 0.0f);
  ops::matmul_backward(g.cpu,
                       {.dbias = fdb.data(), .dout = dy.data(), .rows = rows, .k = k, .n = n});
  double worst = 0;
  for (int64_t j = 0; j < n; ++j) {
    double mag = 0;
    for (int64_t r = 0; r < rows; ++r) mag += std::fabs(double{dy[static_cast<size_t>(r * n + j)]});
    const auto e = static_cast<size_t>(j);
    worst = std::max(
        worst, std::fabs(double{db[e]} - double{db0[e]} - double{fdb[e]}) / (kU * mag + 1e-5));
  }
  INFO("dbias: worst error / bound = " << worst);
  CHECK(worst <= 1.0);
}

namespace {

// max |gelu_tanh - gelu_erf| and max |gelu_tanh' - gelu_erf'| over the reals (4.73e-4 and
// 8.68e-4, near |x| = 2), and max |gelu'| (1.129): the price of the tanh form.
constexpr double kTanhGelu = 4.8e-4, kTanhDGelu = 8.8e-4, kMaxDGelu = 1.13;

// Column sums (double) of a (rows, n) row-major matrix.
std::vector<double> col_sums(const std::vector<float>& m, int64_t rows, int64_t n) {
  std::vector<double> s(static_cast<size_t>(n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j)
      s[static_cast<size_t>(j)] += double{m[static_cast<size_t>(r * n + j)]};
  return s;
}

// sum_i |a_ri| |b_ji|: out (rows, n) = a (rows, k) . b (n, k)^T's magnitude, element (r, j).
std::vector<double> magnitudes(const std::vector<float>& a, const std::vector<float>& b,
                               int64_t rows, int64_t k, int64_t n) {
  std::vector<double> m(static_cast<size_t>(rows * n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < k; ++i)
        m[static_cast<size_t>(r * n + j)] += std::fabs(double{a[static_cast<size_t>(r * k + i)]}) *
                                             std::fabs(double{b[static_cast<size_t>(j * k + i)]});
  return m;
}

// Worst |got - ref| / bound over the elements; passes when <= 1.
void check_bound(const std::vector<float>& got, const std::vector<double>& ref,
                 const std::vector<double>& bound, const char* what) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = std::fabs(double{got[i]} - ref[i]) / bound[i];
    if (!(r <= worst)) worst = r, at = i;
  }
  INFO(what << ": worst error / bound = " << worst << " at " << at << " (got " << got[at]
            << ", ref " << ref[at] << ", bound " << bound[at] << ")");
  CHECK(worst <= 1.0);
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

}  // namespace

// The FFN of a layer, h1 (rows, H) -> pre = h1 Wi^T + bi (rows, I) -> act = gelu(pre) -> out =
// act Wo^T + bo, forward and backward, through ops with Context::bf16: I = 64 takes the fused
// epilogues (GELU_AUX_BIAS, DGELU_BGRAD, BGRADB); I = 36 (aux ld not a multiple of 8) the
// unfused fallback, which must agree too.
TEST_CASE(
    "cuda bf16 FFN epilogues: the unfused bf16 path with the same tanh GELU, and fp32 within the "
    "bounds",
    "[cuda]") {
  if (!have_gpu()) return;
  for (int64_t I : {64, 36}) {
    INFO("intermediate " << I);
    Gpu g;
    const int64_t rows = 37, H = 32;
    const auto h1 = randn(static_cast<size_t>(rows * H), 11);
    const auto wi = randn(static_cast<size_t>(I * H), 12, 0.25f);
    const auto bi = randn(static_cast<size_t>(I), 13, 0.5f);
    const auto wo = randn(static_cast<size_t>(H * I), 14, 0.2f);
    const auto dy = randn(static_cast<size_t>(rows * H), 15);
    const auto dwi0 = randn(wi.size(), 16), dbi0 = randn(bi.size(), 17);
    const auto dwo0 = randn(wo.size(), 18), dbo0 = randn(static_cast<size_t>(H), 19);
    auto X = on_device(h1), Wi = on_device(wi), Bi = on_device(bi), Wo = on_device(wo);
    auto DY = on_device(dy);
    const size_t TI = static_cast<size_t>(rows * I);

    // Forward: fused, and the unfused bf16 GEMM + bias epilogue, then the tanh GELU kernel.
    cuda::DeviceBuffer<float> PRE(TI), ACT(TI), PRE2(TI), ACT2(TI);
    ops::matmul_gelu_forward(g.ctx, {.out = ACT.get(),
                                     .pre = PRE.get(),
                                     .inp = X.get(),
                                     .weight = Wi.get(),
                                     .bias = Bi.get(),
                                     .rows = rows,
                                     .k = H,
                                     .n = I});
    cuda::matmul_forward_bf16({.out = PRE2.get(),
                               .inp = X.get(),
                               .weight = Wi.get(),
                               .bias = Bi.get(),
                               .rows = rows,
                               .k = H,
                               .n = I},
                              g.rt);
    cuda::gelu_tanh_forward(ACT2.get(), PRE2.get(), static_cast<int64_t>(TI), g.rt);
    const auto pre = host(PRE, g.rt), act = host(ACT, g.rt);
    check_close(pre, host(PRE2, g.rt), 1e-6, 4 * kEpsF32, "fused pre (aux) vs unfused");
    check_close(act, host(ACT2, g.rt), 1e-6, 16 * kEpsF32, "fused GELU vs the tanh GELU kernel");
    // Without pre (GradCache's first pass, inference): GELU_BIAS, the same values.
    cuda::DeviceBuffer<float> ACT3(TI);
    ops::matmul_gelu_forward(g.ctx, {.out = ACT3.get(),
                                     .inp = X.get(),
                                     .weight = Wi.get(),
                                     .bias = Bi.get(),
                                     .rows = rows,
                                     .k = H,
                                     .n = I});
    check_close(host(ACT3, g.rt), act, 1e-6, 4 * kEpsF32, "GELU_BIAS (no aux) vs GELU_AUX_BIAS");

    // Against fp32 with the erf GELU on the original operands: pre within one rounding of each
    // operand, act within |gelu'| times that plus the tanh form's own distance.
    std::vector<float> fpre(TI), fact(TI);
    ops::matmul_gelu_forward(g.cpu, {.out = fact.data(),
                                     .pre = fpre.data(),
                                     .inp = h1.data(),
                                     .weight = wi.data(),
                                     .bias = bi.data(),
                                     .rows = rows,
                                     .k = H,
                                     .n = I});
    const auto mag = magnitudes(h1, wi, rows, H, I);
    std::vector<double> bpre(TI), bact(TI);
    for (size_t e = 0; e < TI; ++e) {
      bpre[e] = 2 * kU * mag[e] + 1e-5;
      bact[e] = kMaxDGelu * bpre[e] + kTanhGelu;
    }
    check_bound(pre, widen(fpre), bpre, "pre vs fp32");
    check_bound(act, widen(fact), bact, "act vs fp32 erf GELU");

    // Backward from dy, on the fused forward's pre and act (so both paths see the same inputs).
    auto DPRE = cuda::DeviceBuffer<float>(TI), DPRE2 = cuda::DeviceBuffer<float>(TI);
    auto DWO = on_device(dwo0), DBO = on_device(dbo0), DBI = on_device(dbi0);
    auto DWO2 = on_device(dwo0), DBO2 = on_device(dbo0);
    ops::gelu_matmul_backward(g.ctx, {.dpre = DPRE.get(),
                                      .dpre_sum = DBI.get(),
                                      .dweight = DWO.get(),
                                      .dbias = DBO.get(),
                                      .dout = DY.get(),
                                      .act = ACT.get(),
                                      .pre = PRE.get(),
                                      .weight = Wo.get(),
                                      .rows = rows,
                                      .k = I,
                                      .n = H});
    cuda::matmul_backward_bf16({.dinp = DPRE2.get(),
                                .dweight = DWO2.get(),
                                .dbias = DBO2.get(),
                                .dout = DY.get(),
                                .inp = ACT.get(),
                                .weight = Wo.get(),
                                .rows = rows,
                                .k = I,
                                .n = H},
                               g.rt);
    cuda::gelu_tanh_backward(DPRE2.get(), PRE.get(), DPRE2.get(), static_cast<int64_t>(TI), g.rt);
    const auto dpre = host(DPRE, g.rt), dpre2 = host(DPRE2, g.rt);
    const auto dwo = host(DWO, g.rt), dbo = host(DBO, g.rt), dbi = host(DBI, g.rt);
    check_close(dpre, dpre2, 1e-6, 16 * kEpsF32, "fused dGELU vs the tanh GELU backward kernel");
    check_bitwise(dwo, host(DWO2, g.rt), "dWo: the same GEMM");
    check_bitwise(dbo, host(DBO2, g.rt), "dbo: the same BGRADB epilogue");
    // dbi: the epilogue's row sums of dpre, against the sums of the unfused dpre (fp32
    // accumulation: 64 eps of sum |dpre|).
    {
      const auto s2 = col_sums(dpre2, rows, I);
      std::vector<float> absd(dpre2.size());
      for (size_t e = 0; e < absd.size(); ++e) absd[e] = std::fabs(dpre2[e]);
      const auto sa = col_sums(absd, rows, I);
      std::vector<double> ref(static_cast<size_t>(I)), b(static_cast<size_t>(I));
      for (size_t j = 0; j < ref.size(); ++j) {
        ref[j] = double{dbi0[j]} + s2[j];
        b[j] = 64 * kEpsF32 * sa[j] + 1e-6;
      }
      check_bound(dbi, ref, b, "dbi (DGELU_BGRAD) vs the sums of the unfused dpre");
    }

    // Against fp32 with the erf GELU on the original dy, Wo (the same act and pre): dz = dy Wo,
    // dpre = dz gelu'(pre). Bound: |gelu'| times dz's one rounding of each operand, plus |dz|
    // times the tanh form's derivative distance.
    std::vector<float> fdpre(TI), fdwo(wo.size(), 0.0f), fdbo(static_cast<size_t>(H), 0.0f);
    std::vector<float> fdbi(static_cast<size_t>(I), 0.0f);
    ops::gelu_matmul_backward(g.cpu, {.dpre = fdpre.data(),
                                      .dpre_sum = fdbi.data(),
                                      .dweight = fdwo.data(),
                                      .dbias = fdbo.data(),
                                      .dout = dy.data(),
                                      .act = act.data(),
                                      .pre = pre.data(),
                                      .weight = wo.data(),
                                      .rows = rows,
                                      .k = I,
                                      .n = H});
    std::vector<float> dz(TI);
    ops::matmul_backward(g.cpu, {.dinp = dz.data(),
                                 .dout = dy.data(),
                                 .inp = act.data(),
                                 .weight = wo.data(),
                                 .rows = rows,
                                 .k = I,
                                 .n = H});
    const auto mz = magnitudes(dy, transpose(wo, H, I), rows, H, I);
    std::vector<double> bd(TI);
    for (size_t e = 0; e < TI; ++e)
      bd[e] = kMaxDGelu * 2 * kU * mz[e] + kTanhDGelu * std::fabs(double{dz[e]}) + 1e-5;
    check_bound(dpre, widen(fdpre), bd, "dpre vs fp32 erf GELU backward");
    std::vector<double> bsum(static_cast<size_t>(I), 0.0), fbi(static_cast<size_t>(I));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < I; ++j)
        bsum[static_cast<size_t>(j)] += bd[static_cast<size_t>(r * I + j)];
    for (size_t j = 0; j < fbi.size(); ++j) fbi[j] = double{dbi0[j]} + double{fdbi[j]};
    check_bound(dbi, fbi, bsum, "dbi vs fp32");
    std::vector<float> dwo_new(dwo.size()), dbo_new(dbo.size());
    for (size_t e = 0; e < dwo.size(); ++e) dwo_new[e] = dwo[e] - dwo0[e];
    for (size_t e = 0; e < dbo.size(); ++e) dbo_new[e] = dbo[e] - dbo0[e];
    check_bf16_bound(dwo_new, fdwo, transpose(dy, rows, H), transpose(act, rows, I), H, rows, I,
                     "dWo vs fp32");
    std::vector<float> ones(static_cast<size_t>(rows), 1.0f);
    check_bf16_bound(dbo_new, fdbo, transpose(dy, rows, H), ones, H, rows, 1, "dbo vs fp32");
  }
}

// Where cuBLASLt has no algorithm for a fused epilogue (a device refuses BGRADB with op(B) = B),
// Blas says so instead of throwing, and the ops run the unfused form; gemm() itself names the
// rule.
#ifdef SBERT_SIMT_EMU
TEST_CASE("cuda Blas: an epilogue without an algorithm is an answer, not an error", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  cuda::Blas& blas = g.rt.impl().blas;
  cuda::DeviceBuffer<float> A(32), B(16), C(32), grad(4);
  A.zero();
  B.zero();
  cuda::GemmShape s;
  s.m = 8, s.n = 4, s.k = 4;
  s.lda = 8, s.ldb = 4, s.ldc = 8;
  s.epilogue = cuda::GemmEpilogue::BGradB;
  cuda::GemmEpilogueIo io;
  io.bias_grad = grad.get();
  CHECK_FALSE(blas.has_algorithm(s, A.get(), B.get(), C.get(), io));
  CHECK_THROWS_WITH(blas.gemm(g.rt.stream(), s, A.get(), B.get(), C.get(), io),
                    Catch::Contains("BGRADB epilogue needs op(B) = B^T"));
  s.trans_b = true;  // B stored (n, k)
  CHECK(blas.has_algorithm(s, A.get(), B.get(), C.get(), io));
  blas.gemm(g.rt.stream(), s, A.get(), B.get(), C.get(), io);
  g.rt.synchronize();
  CHECK(grad.to_host() == std::vector<float>(4, 0.0f));  // the sums of a zero B
}
#endif

// The bf16 copy of a parameter block: a GEMM whose weight lies inside the bound block reads the
// copy (cuda::bf16_weight_casts stays 0: no weight is rounded at a call), with the bits of
// a per-call cast; a weight outside is cast as before; the copy follows the block only when
// refreshed; a bound copy never refreshed is refused.
TEST_CASE("cuda bf16 weight copy: the GEMMs read it, bit for bit, and cast no weight per call",
          "[cuda]") {
  if (!have_gpu()) return;
  const int64_t rows = 21, H = 32, I = 64;
  // One block holding Wi (I, H), bi (I), Wo (H, I), bo (H), at an odd offset (views into a
  // parameter block are not always aligned).
  const int64_t off = 3, total = off + I * H + I + H * I + H;
  auto block = randn(static_cast<size_t>(total), 21, 0.2f);
  const auto h1 = randn(static_cast<size_t>(rows * H), 22),
             dy = randn(static_cast<size_t>(rows * H), 23);
  Gpu bound, plain;  // two Runtimes: with and without the copy
  auto Wb = on_device(block), Wp = on_device(block);
  auto X = on_device(h1), DY = on_device(dy);
  // The FFN's forward and backward on the block's weights; returns every result.
  const auto ffn = [&](Gpu& g, float* w) {
    const float *wi = w + off, *bi = wi + I * H, *wo = bi + I, *bo = wo + H * I;
    cuda::DeviceBuffer<float> pre(static_cast<size_t>(rows * I)), act(pre.size()),
        out(static_cast<size_t>(rows * H)), dpre(pre.size()), dh(out.size());
    cuda::DeviceBuffer<float> grads(static_cast<size_t>(total));
    grads.zero();
    float* gw = grads.get();
    ops::matmul_gelu_forward(g.ctx, {.out = act.get(),
                                     .pre = pre.get(),
                                     .inp = X.get(),
                                     .weight = wi,
                                     .bias = bi,
                                     .rows = rows,
                                     .k = H,
                                     .n = I});
    ops::matmul_forward(g.ctx, {.out = out.get(),
                                .inp = act.get(),
                                .weight = wo,
                                .bias = bo,
                                .rows = rows,
                                .k = I,
                                .n = H});
    ops::gelu_matmul_backward(g.ctx, {.dpre = dpre.get(),
                                      .dpre_sum = gw + off + I * H,
                                      .dweight = gw + off + I * H + I,
                                      .dbias = gw + off + I * H + I + H * I,
                                      .dout = DY.get(),
                                      .act = act.get(),
                                      .pre = pre.get(),
                                      .weight = wo,
                                      .rows = rows,
                                      .k = I,
                                      .n = H});
    ops::matmul_backward(g.ctx, {.dinp = dh.get(),
                                 .dweight = gw + off,
                                 .dout = dpre.get(),
                                 .inp = X.get(),
                                 .weight = wi,
                                 .rows = rows,
                                 .k = H,
                                 .n = I});
    g.rt.synchronize();
    std::vector<float> all = out.to_host(), d = dh.to_host(), gr = grads.to_host();
    all.insert(all.end(), d.begin(), d.end());
    all.insert(all.end(), gr.begin(), gr.end());
    return all;
  };

  ops::bind_weight_copy(bound.ctx, Wb.get(), total);
  CHECK_THROWS_WITH(ffn(bound, Wb.get()), Catch::Contains("never refreshed"));
  ops::refresh_weight_copy(bound.ctx);
  const auto a = ffn(bound, Wb.get());
  CHECK(cuda::bf16_weight_casts(bound.rt) == 0);  // no weight was cast per call
  const auto b = ffn(plain, Wp.get());
  CHECK(cuda::bf16_weight_casts(plain.rt) == 4);  // one per GEMM reading a weight
  check_bitwise(a, b, "bound copy vs per-call casts");

  // The block changes (as AdamW's step changes it): the GEMMs see it after the refresh only.
  for (float& v : block) v *= 0.5f;
  cuda::copy_to_device(Wb.get(), block.data(), block.size() * sizeof(float));
  cuda::copy_to_device(Wp.get(), block.data(), block.size() * sizeof(float));
  const auto stale = ffn(bound, Wb.get());
  ops::refresh_weight_copy(bound.ctx);
  const auto fresh = ffn(bound, Wb.get()), want = ffn(plain, Wp.get());
  check_bitwise(fresh, want, "refreshed copy vs per-call casts");
  CHECK(stale != want);

  // A weight outside the block is cast per call.
  auto outside = on_device(std::vector<float>(block.begin(), block.end()));
  const auto c = ffn(bound, outside.get());
  check_bitwise(c, want, "a weight outside the bound block");
  CHECK(cuda::bf16_weight_casts(bound.rt) == 4);
  // Unbinding: the GEMMs cast per call again.
  ops::bind_weight_copy(bound.ctx, nullptr, 0);
  check_bitwise(ffn(bound, Wb.get()), want, "after unbinding");
}

TEST_CASE(
    "cuda bf16 attention through ops: the fp32 attention within bf16's error, fp32 for other head "
    "dims",
    "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const std::vector<int64_t> cu = {0, 17, 40, 105};
  const int64_t nseq = 3, T = cu.back();
  for (int64_t D : {32, 8}) {
    INFO("head dim " << D);
    const int64_t heads = 2, H = heads * D;
    const auto qkv = randn(static_cast<size_t>(T * 3 * H), 9);
    std::vector<float> out(static_cast<size_t>(T * H)), lse(static_cast<size_t>(heads * T));
    ops::attention_forward(g.cpu, {.out = out.data(),
                                   .lse = lse.data(),
                                   .qkv = qkv.data(),
                                   .cu_seqlens = cu.data(),
                                   .nseq = nseq,
                                   .heads = heads,
                                   .head_dim = D});
    auto Q = on_device(qkv);
    auto CU = on_device(cu);
    cuda::DeviceBuffer<float> O(out.size()), L(lse.size());
    ops::attention_forward(g.ctx, {.out = O.get(),
                                   .lse = L.get(),
                                   .qkv = Q.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = nseq,
                                   .heads = heads,
                                   .head_dim = D,
                                   .dims = {T, 65}});
    const auto got = host(O, g.rt);
    if (D == 32) {
      // Inputs N(0, 1) rounded to bf16, P rounded to bf16, output rounded: a few units of 2^-8.
      check_close(got, out, 4 * kU, 4 * kU, "bf16 attention out vs fp32");
    } else {
      check_close(got, out, 1e-5, 64 * kEpsF32, "head dim 8: the fp32 kernel");
    }
  }
}

TEST_CASE("cuda fp16 casts equal the CPU's bit for bit", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  // Every fp16 value widened, the midpoints between neighbours (ties: to even) and one fp32 ulp
  // either side of them, half of them negated; then the edges.
  std::vector<float> x;
  for (uint32_t h = 0; h < 0x10000u; ++h) x.push_back(f16_to_f32(static_cast<uint16_t>(h)));
  for (uint16_t h = 0; h < 0x7bffu; ++h) {
    const float mid = (f16_to_f32(h) + f16_to_f32(static_cast<uint16_t>(h + 1))) / 2;
    const float s = (h & 1u) ? -1.0f : 1.0f;
    for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) x.push_back(s * v);
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {65504.0f, 65519.99f, 65520.0f, 1e5f, 3.4e38f, inf, -inf, -65520.0f,
                  std::numeric_limits<float>::quiet_NaN(), std::ldexp(1.0f, -24),
                  std::ldexp(1.0f, -25), std::ldexp(1.5f, -25), std::ldexp(1.0f, -26), 1e-40f,
                  -0.0f, std::ldexp(1023.5f, -24), std::ldexp(2047.0f, -25)}) {
    x.push_back(v);
  }
  check_casts_bitwise(g, x, cuda::to_f16, cuda::from_f16, cpu::to_f16, cpu::from_f16);
  // The edges themselves: IEEE binary16.
  const auto f16 = [](float v) { return f32_to_f16(v); };
  CHECK(f16(65504.0f) == 0x7bffu);
  CHECK(f16(65519.99f) == 0x7bffu);
  CHECK(f16(65520.0f) == 0x7c00u);  // halfway to 2^16: to even, which is inf
  CHECK(f16(-1e5f) == 0xfc00u);
  CHECK(f16(std::ldexp(1.0f, -24)) == 0x0001u);  // the smallest subnormal
  CHECK(f16(std::ldexp(1.0f, -25)) == 0x0000u);  // halfway to it: to even, zero
  CHECK(f16(std::ldexp(1.5f, -25)) == 0x0001u);
  CHECK(f16(std::ldexp(2047.0f, -25)) == 0x0400u);  // 1023.5 units: up to the smallest normal
  CHECK(f16(std::numeric_limits<float>::quiet_NaN()) == 0x7e00u);
  CHECK(f16_to_f32(0x0001u) == std::ldexp(1.0f, -24));
  CHECK(f16_to_f32(0x03ffu) == std::ldexp(1023.0f, -24));
}

TEST_CASE(
    "cuda fp16 matmul forward/backward: the fp32 GEMM of the rounded operands, and fp16's "
    "bound",
    "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  g.ctx.bf16 = false;
  g.ctx.fp16 = true;
  const int64_t rows = 37, k = 64, n = 48;
  const auto x = randn(static_cast<size_t>(rows * k), 1);
  const auto w = randn(static_cast<size_t>(n * k), 2, 0.2f);
  const auto b = randn(static_cast<size_t>(n), 3);
  const auto dy = randn(static_cast<size_t>(rows * n), 4);
  const auto dw0 = randn(static_cast<size_t>(n * k), 5);
  const auto db0 = randn(static_cast<size_t>(n), 6);

  auto X = on_device(x), W = on_device(w), Bv = on_device(b), DY = on_device(dy);
  auto DW = on_device(dw0), DB = on_device(db0);
  cuda::DeviceBuffer<float> Y(static_cast<size_t>(rows * n)), DX(static_cast<size_t>(rows * k));
  ops::matmul_forward(g.ctx, {.out = Y.get(),
                              .inp = X.get(),
                              .weight = W.get(),
                              .bias = Bv.get(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.ctx, {.dinp = DX.get(),
                               .dweight = DW.get(),
                               .dbias = DB.get(),
                               .dout = DY.get(),
                               .inp = X.get(),
                               .weight = W.get(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  const auto y = host(Y, g.rt), dx = host(DX, g.rt), dw = host(DW, g.rt), db = host(DB, g.rt);

  const auto xr = rounded(x, true), wr = rounded(w, true), dyr = rounded(dy, true);
  CHECK(xr != rounded(x));  // fp16 and bf16 round differently: the fp16 path really ran
  std::vector<float> ty(y.size()), tdx(dx.size()), tdw = dw0, tdb = db0;
  ops::matmul_forward(g.cpu, {.out = ty.data(),
                              .inp = xr.data(),
                              .weight = wr.data(),
                              .bias = b.data(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.cpu, {.dinp = tdx.data(),
                               .dweight = tdw.data(),
                               .dout = dyr.data(),
                               .inp = xr.data(),
                               .weight = wr.data(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  ops::matmul_backward(g.cpu, {.dbias = tdb.data(),
                               .dout = dy.data(),
                               .inp = x.data(),
                               .weight = w.data(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  const double rtol = 64 * kEpsF32;
  check_close(y, ty, 1e-5, rtol, "fp16 matmul out vs fp32 on rounded operands");
  check_close(dx, tdx, 1e-5, rtol, "fp16 matmul dinp vs fp32 on rounded operands");
  check_close(dw, tdw, 1e-5, rtol, "fp16 matmul dweight vs fp32 on rounded operands");
  check_close(db, tdb, 1e-6, 4 * kEpsF32, "fp16 matmul dbias (fp32)");

  std::vector<float> fy(y.size()), fdx(dx.size()), fdw(dw.size(), 0.0f);
  ops::matmul_forward(g.cpu, {.out = fy.data(),
                              .inp = x.data(),
                              .weight = w.data(),
                              .bias = b.data(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  ops::matmul_backward(g.cpu, {.dinp = fdx.data(),
                               .dweight = fdw.data(),
                               .dout = dy.data(),
                               .inp = x.data(),
                               .weight = w.data(),
                               .rows = rows,
                               .k = k,
                               .n = n});
  check_bf16_bound(y, fy, x, w, rows, k, n, "fp16 out", kU16);
  check_bf16_bound(dx, fdx, dy, transpose(w, n, k), rows, n, k, "fp16 dinp", kU16);
  std::vector<float> dw_new(dw.size());
  for (size_t i = 0; i < dw.size(); ++i) dw_new[i] = dw[i] - dw0[i];
  check_bf16_bound(dw_new, fdw, transpose(dy, rows, n), transpose(x, rows, k), n, rows, k,
                   "fp16 dweight", kU16);

  // An operand past fp16's range becomes inf, and so does the product: what loss scaling detects.
  std::vector<float> big = randn(static_cast<size_t>(rows * k), 1);
  big.at(0) = 1e5f;
  auto XB = on_device(big);
  ops::matmul_forward(g.ctx, {.out = Y.get(),
                              .inp = XB.get(),
                              .weight = W.get(),
                              .bias = Bv.get(),
                              .rows = rows,
                              .k = k,
                              .n = n});
  const auto yb = host(Y, g.rt);
  bool nonfinite = false;
  for (int64_t j = 0; j < n; ++j) {
    nonfinite = nonfinite || !std::isfinite(yb[static_cast<size_t>(j)]);
  }
  CHECK(nonfinite);
}

#ifdef SBERT_SIMT_EMU
// The trainer's memory plan reserves what the mixed-precision ops use beyond their operands
// (workspace slots for the casts, the bias-gradient scratch): after ops::reserve_matmul /
// reserve_attention for the largest sizes, those ops allocate nothing, at those sizes or less.
TEST_CASE("cuda mixed ops: after reserve_matmul and reserve_attention no op allocates", "[cuda]") {
  if (!have_gpu()) return;
  for (const bool fp16 : {false, true}) {
    INFO((fp16 ? "16-mixed" : "bf16-mixed"));
    Gpu g;
    g.ctx.bf16 = !fp16;
    g.ctx.fp16 = fp16;
    const int64_t T = 40, k = 24, n = 40, heads = 2, D = 32, H = heads * D;
    auto X = on_device(randn(static_cast<size_t>(T * k), 1));
    auto W = on_device(randn(static_cast<size_t>(n * k), 2));
    auto B = on_device(randn(static_cast<size_t>(n), 3));
    auto DY = on_device(randn(static_cast<size_t>(T * n), 4));
    cuda::DeviceBuffer<float> Y(static_cast<size_t>(T * n)), DX(static_cast<size_t>(T * k));
    auto DW = on_device(std::vector<float>(static_cast<size_t>(n * k)));  // accumulated into
    auto DB = on_device(std::vector<float>(static_cast<size_t>(n)));
    const std::vector<int64_t> cu = {0, 15, 40};
    auto CU = on_device(cu);
    auto QKV = on_device(randn(static_cast<size_t>(T * 3 * H), 5));
    auto DO = on_device(randn(static_cast<size_t>(T * H), 6));
    cuda::DeviceBuffer<float> O(static_cast<size_t>(T * H)), L(static_cast<size_t>(heads * T)),
        DQKV(static_cast<size_t>(T * 3 * H));
    ops::reserve_matmul(g.ctx, T, k, n);
    ops::reserve_attention(g.ctx, T, heads, D);
    const size_t mallocs = simt_device_malloc_count();
    for (const int64_t rows : {T, T / 2}) {
      ops::matmul_forward(g.ctx, {.out = Y.get(),
                                  .inp = X.get(),
                                  .weight = W.get(),
                                  .bias = B.get(),
                                  .rows = rows,
                                  .k = k,
                                  .n = n});
      ops::matmul_backward(g.ctx, {.dinp = DX.get(),
                                   .dweight = DW.get(),
                                   .dbias = DB.get(),
                                   .dout = DY.get(),
                                   .inp = X.get(),
                                   .weight = W.get(),
                                   .rows = rows,
                                   .k = k,
                                   .n = n});
    }
    ops::attention_forward(g.ctx, {.out = O.get(),
                                   .lse = L.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = 2,
                                   .heads = heads,
                                   .head_dim = D,
                                   .dims = {T, 25}});
    ops::attention_backward(g.ctx, {.dqkv = DQKV.get(),
                                    .dout = DO.get(),
                                    .qkv = QKV.get(),
                                    .out = O.get(),
                                    .lse = L.get(),
                                    .cu_seqlens = CU.get(),
                                    .nseq = 2,
                                    .heads = heads,
                                    .head_dim = D,
                                    .dims = {T, 25}});
    g.rt.synchronize();
    CHECK(simt_device_malloc_count() == mallocs);
  }
}
#endif

}  // namespace sbert::test
