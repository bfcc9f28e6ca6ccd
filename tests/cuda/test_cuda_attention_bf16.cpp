// [cuda] tensor-core attention forward (cuda/attention_bf16.cu) against its CPU twin
// (cpu/attention_bf16.cpp, the same rounding points: tight bounds) and against the fp32
// attention (cpu/attention.cpp: loose bounds, the price of bf16), bounds and reasons in
// docs/kernels.md. Packed batches whose lengths sit on and around the 64-row tiles (1, 15, 16,
// 17, 63, 64, 65, 130), head dims 32, 64, 128, several heads, with and without dropout, and a
// grid hint smaller than the longest sequence. Skips without a device.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "cpu/attention_bf16.h"
#include "cpu/kernels.h"
#include "cuda/attention_bf16.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"

namespace sbert::test {

namespace {

struct Bf16AttnCase {
  int64_t heads, head_dim;
  std::vector<int64_t> lengths;
  float dropout;
  int64_t max_seqlen_hint;  // 0: the real longest length
};

std::vector<float> widen(const std::vector<uint16_t>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = bf16_to_f32(v[i]);
  return f;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::fmax(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return m;
}

// |got - ref| <= tol element-wise (tol per element).
void check_within(const std::vector<float>& got, const std::vector<float>& ref,
                  const std::vector<double>& tol, const char* what) {
  REQUIRE(got.size() == ref.size());
  REQUIRE(tol.size() == ref.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    const double r = std::isfinite(static_cast<double>(got[i])) ? err / tol[i] : 1e30;
    if (r > worst) worst = r, at = i;
  }
  INFO(what << ": worst element " << at << " of " << ref.size() << ": gpu "
            << (ref.empty() ? 0.0f : got[at]) << " fp32 " << (ref.empty() ? 0.0f : ref[at])
            << ", error / tolerance = " << worst);
  CHECK(worst <= 1.0);
}

// Error scales of the bf16 roundings of the backward, in double from the bf16 inputs, packed
// like dqkv (T, 3H):  mq = scale sum_j |dS_ij| |k_j|,  mk = scale sum_i |dS_ij| |q_i|,
// mv = sum_i P_ij F_ij |dO_i|.
std::vector<double> backward_scales(const std::vector<float>& qkv, const std::vector<float>& dout,
                                    const std::vector<float>& out, const std::vector<float>& lse,
                                    const std::vector<int64_t>& cu, int64_t heads, int64_t D,
                                    const DropoutSpec& spec) {
  const int64_t nseq = static_cast<int64_t>(cu.size()) - 1, T = cu.back(), H = heads * D;
  const int64_t ld = 3 * H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> m(static_cast<size_t>(T * ld), 0.0);
  const auto at = [](const std::vector<float>& v, int64_t i) {
    return static_cast<double>(v[static_cast<size_t>(i)]);
  };
  std::vector<float> f;
  for (int64_t s = 0; s < nseq; ++s) {
    const int64_t start = cu[static_cast<size_t>(s)];
    const int64_t len = cu[static_cast<size_t>(s) + 1] - start;
    f.assign(static_cast<size_t>(len), 1.0f);
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t q0 = start * ld + h * D, k0 = q0 + H, v0 = q0 + 2 * H, o0 = start * H + h * D;
      for (int64_t i = 0; i < len; ++i) {
        double delta = 0.0;
        for (int64_t c = 0; c < D; ++c) delta += at(dout, o0 + i * H + c) * at(out, o0 + i * H + c);
        if (spec.active()) {
          const uint64_t first = (static_cast<uint64_t>(h) * static_cast<uint64_t>(T) +
                                  static_cast<uint64_t>(start + i)) *
                                     static_cast<uint64_t>(T) +
                                 static_cast<uint64_t>(start);
          dropout_factors(f.data(), spec, first, len);
        }
        const double l = at(lse, h * T + start + i);
        for (int64_t j = 0; j < len; ++j) {
          double sc = 0.0, dp = 0.0;
          for (int64_t c = 0; c < D; ++c) {
            sc += at(qkv, q0 + i * ld + c) * at(qkv, k0 + j * ld + c);
            dp += at(dout, o0 + i * H + c) * at(qkv, v0 + j * ld + c);
          }
          const double p = std::exp(sc * scale - l), fj = static_cast<double>(f[static_cast<size_t>(j)]);
          const double ds = std::fabs(p * (dp * fj - delta));
          for (int64_t c = 0; c < D; ++c) {
            m[static_cast<size_t>(q0 + i * ld + c)] += scale * ds * std::fabs(at(qkv, k0 + j * ld + c));
            m[static_cast<size_t>(k0 + j * ld + c)] += scale * ds * std::fabs(at(qkv, q0 + i * ld + c));
            m[static_cast<size_t>(v0 + j * ld + c)] += p * fj * std::fabs(at(dout, o0 + i * H + c));
          }
        }
      }
    }
  }
  return m;
}

}  // namespace

TEST_CASE("cuda bf16 attention forward matches its twin and the fp32 attention", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const std::vector<int64_t> tiles = {1, 15, 16, 17, 63, 64, 65, 130};
  const std::vector<Bf16AttnCase> cases = {
      {3, 32, tiles, 0.0f, 0},      {2, 64, tiles, 0.0f, 0},
      {2, 128, tiles, 0.0f, 0},     {2, 64, {130, 1, 65, 17}, 0.1f, 0},
      {1, 128, {64, 130, 1}, 0.0f, 1},  // grid of one query tile per (sequence, head): strides
  };
  DropoutState st;
  st.seed = 7;
  st.step = 11;
  st.training = true;
  for (const Bf16AttnCase& c : cases) {
    INFO("heads " << c.heads << " head_dim " << c.head_dim << " dropout " << c.dropout);
    const DropoutSpec spec = dropout_spec(st, c.dropout, 2, DropoutSite::AttentionProbs);
    const std::vector<int64_t> cu = offsets_of(c.lengths);
    const int64_t nseq = static_cast<int64_t>(c.lengths.size()), T = cu.back();
    const int64_t H = c.heads * c.head_dim;
    int64_t longest = 0;
    for (int64_t l : c.lengths) longest = std::max(longest, l);
    const auto x = randn(static_cast<size_t>(T * 3 * H), 70 + static_cast<uint32_t>(c.head_dim),
                         1.5f);
    std::vector<uint16_t> qkv(x.size());
    for (size_t i = 0; i < x.size(); ++i) qkv[i] = f32_to_bf16(x[i]);
    const std::vector<float> x_bf = widen(qkv);  // the kernel's inputs, exactly, in fp32

    std::vector<uint16_t> twin(static_cast<size_t>(T * H));
    std::vector<float> twin_lse(static_cast<size_t>(c.heads * T));
    cpu::attention_forward_bf16(twin.data(), twin_lse.data(), qkv.data(), cu.data(), nseq, c.heads,
                                c.head_dim, spec);
    std::vector<float> ref(twin.size()), ref_lse(twin_lse.size());  // fp32 on the bf16 inputs
    cpu::attention_forward<float>(ref.data(), ref_lse.data(), x_bf.data(), cu.data(), nseq,
                                  c.heads, c.head_dim, spec);
    // A = (P o F) |V| / l: the scale of the error that rounding P to bf16 makes in the output.
    std::vector<float> x_abs = x_bf;
    for (int64_t tok = 0; tok < T; ++tok) {
      for (int64_t j = 2 * H; j < 3 * H; ++j) {
        float& e = x_abs[static_cast<size_t>(tok * 3 * H + j)];
        e = std::fabs(e);
      }
    }
    std::vector<float> absv(twin.size()), absv_lse(twin_lse.size());
    cpu::attention_forward<float>(absv.data(), absv_lse.data(), x_abs.data(), cu.data(), nseq,
                                  c.heads, c.head_dim, spec);
    std::vector<float> ref32(twin.size()), ref32_lse(twin_lse.size());  // on the fp32 inputs
    cpu::attention_forward<float>(ref32.data(), ref32_lse.data(), x.data(), cu.data(), nseq,
                                  c.heads, c.head_dim, spec);

    auto CU = on_device(cu);
    auto QKV = on_device(qkv);
    cuda::DeviceBuffer<uint16_t> O(twin.size());
    cuda::DeviceBuffer<float> L(twin_lse.size());
    cuda::attention_forward_bf16(O.get(), L.get(), QKV.get(), CU.get(), nseq,
                                 c.max_seqlen_hint ? c.max_seqlen_hint : longest, c.heads,
                                 c.head_dim, spec, rt);
    rt.synchronize();
    const std::vector<float> out = widen(O.to_host()), lse = L.to_host();
    const std::vector<float> twin_out = widen(twin);
    if (std::getenv("SBERT_TEST_REPORT")) {
      WARN("bf16 attention D " << c.head_dim << " p " << c.dropout << ": max |out - twin| "
                               << max_abs_diff(out, twin_out) << ", |lse - twin| "
                               << max_abs_diff(lse, twin_lse) << ", |out - fp32(bf16 in)| "
                               << max_abs_diff(out, ref) << ", |lse - fp32(bf16 in)| "
                               << max_abs_diff(lse, ref_lse) << ", |out - fp32(fp32 in)| "
                               << max_abs_diff(out, ref32) << ", |lse - fp32(fp32 in)| "
                               << max_abs_diff(lse, ref32_lse));
    }
    // Twin: the same roundings; fp32 summation order may move a bf16 output by one unit in
    // the last place (2^-7 relative at most) and the lse by fp32 rounding noise.
    check_close(out, twin_out, 1e-5, 0x1p-7, "bf16 attention out vs twin");
    check_close(lse, twin_lse, 1e-5, 1e-5, "bf16 attention lse vs twin");
    // fp32 attention on the same (bf16) inputs: P rounded to bf16 (relative error at most
    // u = 2^-8 each, so at most u A in the output) and the output rounded to bf16 (u |out|):
    // derived bound u (A + |out|); the test allows twice that.
    std::vector<double> tol(ref.size());
    double worst = 0.0;  // error / derived bound
    for (size_t i = 0; i < ref.size(); ++i) {
      const double bound =
          0x1p-8 * (static_cast<double>(absv[i]) + std::fabs(static_cast<double>(ref[i]))) + 1e-6;
      tol[i] = 2 * bound;
      worst = std::fmax(worst, std::fabs(static_cast<double>(out[i]) - static_cast<double>(ref[i])) / bound);
    }
    if (std::getenv("SBERT_TEST_REPORT")) WARN("forward error / derived bound " << worst);
    check_within(out, ref, tol, "bf16 attention out vs fp32 attention");
    check_close(lse, ref_lse, 1e-5, 1e-5, "bf16 attention lse vs fp32 attention");
  }
}

TEST_CASE("cuda bf16 attention backward matches its twin and the fp32 attention", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const std::vector<int64_t> tiles = {1, 15, 16, 17, 63, 64, 65, 130};
  const std::vector<Bf16AttnCase> cases = {
      {2, 32, tiles, 0.0f, 0},      {2, 64, tiles, 0.0f, 0},
      {1, 128, tiles, 0.0f, 0},     {2, 64, {130, 1, 65, 17}, 0.1f, 0},
      {1, 128, {33, 130, 1}, 0.1f, 1},  // one tile per (sequence, head) in the grid: strides
  };
  DropoutState st;
  st.seed = 5;
  st.step = 2;
  st.training = true;
  for (const Bf16AttnCase& c : cases) {
    INFO("heads " << c.heads << " head_dim " << c.head_dim << " dropout " << c.dropout);
    const DropoutSpec spec = dropout_spec(st, c.dropout, 1, DropoutSite::AttentionProbs);
    const std::vector<int64_t> cu = offsets_of(c.lengths);
    const int64_t nseq = static_cast<int64_t>(c.lengths.size()), T = cu.back();
    const int64_t H = c.heads * c.head_dim;
    int64_t longest = 0;
    for (int64_t l : c.lengths) longest = std::max(longest, l);
    const int64_t hint = c.max_seqlen_hint ? c.max_seqlen_hint : longest;
    const auto x =
        randn(static_cast<size_t>(T * 3 * H), 90 + static_cast<uint32_t>(c.head_dim), 1.5f);
    const auto y = randn(static_cast<size_t>(T * H), 91);
    std::vector<uint16_t> qkv(x.size()), dout(y.size());
    for (size_t i = 0; i < x.size(); ++i) qkv[i] = f32_to_bf16(x[i]);
    for (size_t i = 0; i < y.size(); ++i) dout[i] = f32_to_bf16(y[i]);

    auto CU = on_device(cu);
    auto QKV = on_device(qkv), DO = on_device(dout);
    cuda::DeviceBuffer<uint16_t> O(static_cast<size_t>(T * H)), DQKV(qkv.size()),
        DQKV2(qkv.size());
    cuda::DeviceBuffer<float> L(static_cast<size_t>(c.heads * T));
    cuda::attention_forward_bf16(O.get(), L.get(), QKV.get(), CU.get(), nseq, hint, c.heads,
                                 c.head_dim, spec, rt);
    cuda::attention_backward_bf16(DQKV.get(), DO.get(), QKV.get(), O.get(), L.get(), CU.get(),
                                  nseq, hint, c.heads, c.head_dim, spec, rt);
    cuda::attention_backward_bf16(DQKV2.get(), DO.get(), QKV.get(), O.get(), L.get(), CU.get(),
                                  nseq, hint, c.heads, c.head_dim, spec, rt);
    rt.synchronize();
    const std::vector<uint16_t> out = O.to_host();
    const std::vector<float> lse = L.to_host(), got = widen(DQKV.to_host());
    check_bitwise(widen(DQKV2.to_host()), got, "bf16 attention backward, second run");

    std::vector<uint16_t> twin(qkv.size());
    cpu::attention_backward_bf16(twin.data(), dout.data(), qkv.data(), out.data(), lse.data(),
                                 cu.data(), nseq, c.heads, c.head_dim, spec);
    const std::vector<float> x_bf = widen(qkv), y_bf = widen(dout), o_bf = widen(out);
    std::vector<float> ref(qkv.size());  // the fp32 backward on the same inputs
    cpu::attention_backward<float>(ref.data(), y_bf.data(), x_bf.data(), o_bf.data(), lse.data(),
                                   cu.data(), nseq, c.heads, c.head_dim, spec);
    const std::vector<float> twin_d = widen(twin);
    const std::vector<double> m =
        backward_scales(x_bf, y_bf, o_bf, lse, cu, c.heads, c.head_dim, spec);
    std::vector<double> tol(ref.size());
    double worst = 0.0;  // error / derived bound u (M + |ref|), u = 2^-8
    for (size_t i = 0; i < ref.size(); ++i) {
      const double bound = 0x1p-8 * (m[i] + std::fabs(static_cast<double>(ref[i]))) + 1e-6;
      tol[i] = 2 * bound;
      worst = std::fmax(worst, std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i])) / bound);
    }
    if (std::getenv("SBERT_TEST_REPORT")) {
      WARN("bf16 attention backward D " << c.head_dim << " p " << c.dropout
                                        << ": max |dqkv - twin| " << max_abs_diff(got, twin_d)
                                        << ", |dqkv - fp32| " << max_abs_diff(got, ref)
                                        << ", error / derived bound " << worst);
    }
    // Twin: the same roundings; fp32 summation order may move an output by one bf16 unit in the
    // last place (2^-7 relative at most).
    check_close(got, twin_d, 1e-6, 0x1p-7, "bf16 attention dqkv vs twin");
    // fp32 backward on the same inputs: dS (for dQ, dK) and P o F (for dV) rounded to bf16
    // (relative error at most u = 2^-8 each: u M), the result rounded to bf16 (u |ref|);
    // derived bound u (M + |ref|), the test allows twice that.
    check_within(got, ref, tol, "bf16 attention dqkv vs fp32 attention backward");
  }
}

TEST_CASE("cuda bf16 attention refuses head dims other than 32, 64, 128", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const std::vector<int64_t> cu = {0, 2};
  auto CU = on_device(cu);
  cuda::DeviceBuffer<uint16_t> QKV(2 * 3 * 48), O(2 * 48);
  cuda::DeviceBuffer<float> L(2);
  CHECK_THROWS_WITH(cuda::attention_forward_bf16(O.get(), L.get(), QKV.get(), CU.get(), 1, 2, 1,
                                                 48, DropoutSpec{}, rt),
                    Catch::Contains("[attention_forward_bf16] head_dim 48 is not supported"));
}

}  // namespace sbert::test
