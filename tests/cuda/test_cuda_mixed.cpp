// [cuda] The mixed-precision ops (Context::bf16, cuda/mixed.h) against their twins: the casts
// bit for bit against cpu/convert.h; the bf16 GEMMs against the fp32 CPU GEMM on bf16-rounded
// operands (the same products, fp32 accumulation: tight) and against the fp32 GEMM on the
// original operands within the bf16 bound of docs/kernels.md; the attention through the bf16
// kernels against the fp32 attention, and the fp32 fallback for head dims without a bf16 kernel.
// The same for 16-mixed (Context::fp16): the fp16 casts bit for bit over every fp16 value, the
// midpoints between them (ties to even), subnormals, overflow and NaN; the fp16 GEMMs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/context.h"
#include "core/dtype.h"
#include "cpu/convert.h"
#include "cuda/mixed.h"
#include "cuda/runtime.h"
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
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> want(x.size());
  cpu::to_bf16(want.data(), x.data(), n);
  auto X = on_device(x);
  cuda::DeviceBuffer<uint16_t> H(x.size());
  cuda::DeviceBuffer<float> back(x.size());
  cuda::to_bf16(H.get(), X.get(), n, g.rt);
  cuda::from_bf16(back.get(), H.get(), n, g.rt);
  g.rt.synchronize();
  CHECK(H.to_host() == want);
  std::vector<float> wide(x.size());
  cpu::from_bf16(wide.data(), want.data(), n);
  const std::vector<float> got = back.to_host();
  CHECK(std::memcmp(got.data(), wide.data(), got.size() * sizeof(float)) == 0);
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
  ops::matmul_forward(g.ctx, Y.get(), X.get(), W.get(), Bv.get(), rows, k, n);
  ops::matmul_backward(g.ctx, DX.get(), DW.get(), DB.get(), DY.get(), X.get(), W.get(), rows, k, n);
  const auto y = host(Y, g.rt), dx = host(DX, g.rt), dw = host(DW, g.rt), db = host(DB, g.rt);

  // The twin: fp32 CPU GEMMs on the rounded operands (dbias: the fp32 sum of dout itself).
  const auto xr = rounded(x), wr = rounded(w), dyr = rounded(dy);
  std::vector<float> ty(y.size()), tdx(dx.size()), tdw = dw0, tdb = db0;
  ops::matmul_forward(g.cpu, ty.data(), xr.data(), wr.data(), b.data(), rows, k, n);
  ops::matmul_backward(g.cpu, tdx.data(), tdw.data(), nullptr, dyr.data(), xr.data(), wr.data(),
                       rows, k, n);
  ops::matmul_backward(g.cpu, nullptr, nullptr, tdb.data(), dy.data(), x.data(), w.data(), rows, k,
                       n);
  const double rtol = 64 * kEpsF32;
  check_close(y, ty, 1e-5, rtol, "bf16 matmul out vs fp32 on rounded operands");
  check_close(dx, tdx, 1e-5, rtol, "bf16 matmul dinp vs fp32 on rounded operands");
  check_close(dw, tdw, 1e-5, rtol, "bf16 matmul dweight vs fp32 on rounded operands");
  check_close(db, tdb, 1e-6, 4 * kEpsF32, "bf16 matmul dbias (fp32)");

  // Against fp32 on the original operands: within one bf16 rounding of each operand.
  std::vector<float> fy(y.size()), fdx(dx.size()), fdw(dw.size(), 0.0f);
  ops::matmul_forward(g.cpu, fy.data(), x.data(), w.data(), b.data(), rows, k, n);
  ops::matmul_backward(g.cpu, fdx.data(), fdw.data(), nullptr, dy.data(), x.data(), w.data(), rows,
                       k, n);
  check_bf16_bound(y, fy, x, w, rows, k, n, "out");
  check_bf16_bound(dx, fdx, dy, transpose(w, n, k), rows, n, k, "dinp");
  std::vector<float> dw_new(dw.size());
  for (size_t i = 0; i < dw.size(); ++i) dw_new[i] = dw[i] - dw0[i];
  check_bf16_bound(dw_new, fdw, transpose(dy, rows, n), transpose(x, rows, k), n, rows, k,
                   "dweight");
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
    ops::attention_forward(g.cpu, out.data(), lse.data(), qkv.data(), cu.data(), nseq, heads, D);
    auto Q = on_device(qkv);
    auto CU = on_device(cu);
    cuda::DeviceBuffer<float> O(out.size()), L(lse.size());
    ops::attention_forward(g.ctx, O.get(), L.get(), Q.get(), CU.get(), nseq, heads, D, {}, {T, 65});
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
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> want(x.size());
  cpu::to_f16(want.data(), x.data(), n);
  auto X = on_device(x);
  cuda::DeviceBuffer<uint16_t> H(x.size());
  cuda::DeviceBuffer<float> back(x.size());
  cuda::to_f16(H.get(), X.get(), n, g.rt);
  cuda::from_f16(back.get(), H.get(), n, g.rt);
  g.rt.synchronize();
  CHECK(H.to_host() == want);
  std::vector<float> wide(x.size());
  cpu::from_f16(wide.data(), want.data(), n);
  const std::vector<float> got = back.to_host();
  CHECK(std::memcmp(got.data(), wide.data(), got.size() * sizeof(float)) == 0);
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

TEST_CASE("cuda fp16 matmul forward/backward: the fp32 GEMM of the rounded operands, and fp16's "
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
  ops::matmul_forward(g.ctx, Y.get(), X.get(), W.get(), Bv.get(), rows, k, n);
  ops::matmul_backward(g.ctx, DX.get(), DW.get(), DB.get(), DY.get(), X.get(), W.get(), rows, k, n);
  const auto y = host(Y, g.rt), dx = host(DX, g.rt), dw = host(DW, g.rt), db = host(DB, g.rt);

  const auto xr = rounded(x, true), wr = rounded(w, true), dyr = rounded(dy, true);
  CHECK(xr != rounded(x));  // fp16 and bf16 round differently: the fp16 path really ran
  std::vector<float> ty(y.size()), tdx(dx.size()), tdw = dw0, tdb = db0;
  ops::matmul_forward(g.cpu, ty.data(), xr.data(), wr.data(), b.data(), rows, k, n);
  ops::matmul_backward(g.cpu, tdx.data(), tdw.data(), nullptr, dyr.data(), xr.data(), wr.data(),
                       rows, k, n);
  ops::matmul_backward(g.cpu, nullptr, nullptr, tdb.data(), dy.data(), x.data(), w.data(), rows, k,
                       n);
  const double rtol = 64 * kEpsF32;
  check_close(y, ty, 1e-5, rtol, "fp16 matmul out vs fp32 on rounded operands");
  check_close(dx, tdx, 1e-5, rtol, "fp16 matmul dinp vs fp32 on rounded operands");
  check_close(dw, tdw, 1e-5, rtol, "fp16 matmul dweight vs fp32 on rounded operands");
  check_close(db, tdb, 1e-6, 4 * kEpsF32, "fp16 matmul dbias (fp32)");

  std::vector<float> fy(y.size()), fdx(dx.size()), fdw(dw.size(), 0.0f);
  ops::matmul_forward(g.cpu, fy.data(), x.data(), w.data(), b.data(), rows, k, n);
  ops::matmul_backward(g.cpu, fdx.data(), fdw.data(), nullptr, dy.data(), x.data(), w.data(), rows,
                       k, n);
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
  ops::matmul_forward(g.ctx, Y.get(), XB.get(), W.get(), Bv.get(), rows, k, n);
  const auto yb = host(Y, g.rt);
  bool nonfinite = false;
  for (int64_t j = 0; j < n; ++j) {
    nonfinite = nonfinite || !std::isfinite(yb[static_cast<size_t>(j)]);
  }
  CHECK(nonfinite);
}

}  // namespace sbert::test
