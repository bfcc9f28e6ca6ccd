// [cuda] tensor-core attention forward (cuda/attention_bf16.cu) against its CPU twin
// (cpu/attention_bf16.cpp, the same rounding points: tight bounds) and against the fp32
// attention (cpu/attention.cpp: loose bounds, the price of bf16), bounds and reasons in
// docs/kernels.md. Packed batches whose lengths sit on and around the 64-row tiles (1, 15, 16,
// 17, 63, 64, 65, 130), head dims 32, 64, 128, several heads, with and without dropout, and a
// grid hint smaller than the longest sequence. Skips without a device.
#include <algorithm>
#include <catch2/catch.hpp>
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
#include "support/attention_bf16_bounds.h"

namespace sbert::test {

namespace {

struct Bf16AttnCase {
  int64_t heads, head_dim;
  std::vector<int64_t> lengths;
  float dropout;
  int64_t max_seqlen_hint;  // 0: the real longest length
};

}  // namespace

TEST_CASE("cuda bf16 attention forward matches its twin and the fp32 attention", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const std::vector<int64_t> tiles = {1, 15, 16, 17, 63, 64, 65, 130};
  const std::vector<Bf16AttnCase> cases = {
      {3, 32, tiles, 0.0f, 0},         {2, 64, tiles, 0.0f, 0},
      {2, 128, tiles, 0.0f, 0},        {2, 64, {130, 1, 65, 17}, 0.1f, 0},
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
    const auto x =
        randn(static_cast<size_t>(T * 3 * H), 70 + static_cast<uint32_t>(c.head_dim), 1.5f);
    std::vector<uint16_t> qkv(x.size());
    for (size_t i = 0; i < x.size(); ++i) qkv[i] = f32_to_bf16(x[i]);
    const std::vector<float> x_bf = widen(qkv);  // the kernel's inputs, exactly, in fp32

    std::vector<uint16_t> twin(static_cast<size_t>(T * H));
    std::vector<float> twin_lse(static_cast<size_t>(c.heads * T));
    cpu::attention_forward_bf16(twin.data(), twin_lse.data(), qkv.data(), cu.data(), nseq, c.heads,
                                c.head_dim, spec);
    std::vector<float> ref(twin.size()), ref_lse(twin_lse.size());  // fp32 on the bf16 inputs
    cpu::attention_forward({.out = ref.data(),
                            .lse = ref_lse.data(),
                            .qkv = x_bf.data(),
                            .cu_seqlens = cu.data(),
                            .nseq = nseq,
                            .heads = c.heads,
                            .head_dim = c.head_dim,
                            .dropout = spec});
    const std::vector<float> absv =
        forward_scales(x_bf, cu, c.heads, c.head_dim, spec);            // (P o F) |V| / l
    std::vector<float> ref32(twin.size()), ref32_lse(twin_lse.size());  // on the fp32 inputs
    cpu::attention_forward({.out = ref32.data(),
                            .lse = ref32_lse.data(),
                            .qkv = x.data(),
                            .cu_seqlens = cu.data(),
                            .nseq = nseq,
                            .heads = c.heads,
                            .head_dim = c.head_dim,
                            .dropout = spec});

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
    // Twin: the same roundings. fp32 summation order (a tensor core's, FMA) may move a bf16
    // output by one unit in the last place (2^-7 relative at most) and, rarely, put a p on the
    // other side of a bf16 rounding (u P_ij |v_j| / l each; all of them: u A): allowed, 1/16
    // of that worst case. The lse differs by fp32 rounding noise only.
    std::vector<double> ttol(twin_out.size());
    for (size_t i = 0; i < ttol.size(); ++i) {
      ttol[i] = 0x1p-7 * std::fabs(static_cast<double>(twin_out[i])) +
                0x1p-12 * static_cast<double>(absv[i]) + 1e-6;
    }
    check_within(out, twin_out, ttol, "bf16 attention out vs twin");
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
      worst = std::fmax(
          worst, std::fabs(static_cast<double>(out[i]) - static_cast<double>(ref[i])) / bound);
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
      {2, 32, tiles, 0.0f, 0},         {2, 64, tiles, 0.0f, 0},
      {1, 128, tiles, 0.0f, 0},        {2, 64, {130, 1, 65, 17}, 0.1f, 0},
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
    cuda::DeviceBuffer<uint16_t> O(static_cast<size_t>(T * H)), DQKV(qkv.size()), DQKV2(qkv.size());
    cuda::DeviceBuffer<float> L(static_cast<size_t>(c.heads * T));
    cuda::attention_forward_bf16(O.get(), L.get(), QKV.get(), CU.get(), nseq, hint, c.heads,
                                 c.head_dim, spec, rt);
    cuda::attention_backward_bf16(DQKV.get(), DO.get(), QKV.get(), O.get(), L.get(), CU.get(), nseq,
                                  hint, c.heads, c.head_dim, spec, rt);
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
    cpu::attention_backward({.dqkv = ref.data(),
                             .dout = y_bf.data(),
                             .qkv = x_bf.data(),
                             .out = o_bf.data(),
                             .lse = lse.data(),
                             .cu_seqlens = cu.data(),
                             .nseq = nseq,
                             .heads = c.heads,
                             .head_dim = c.head_dim,
                             .dropout = spec});
    const std::vector<float> twin_d = widen(twin);
    const std::vector<double> m =
        backward_scales(x_bf, y_bf, o_bf, lse, cu, c.heads, c.head_dim, spec);
    std::vector<double> tol(ref.size());
    double worst = 0.0;  // error / derived bound u (M + |ref|), u = 2^-8
    for (size_t i = 0; i < ref.size(); ++i) {
      const double bound = 0x1p-8 * (m[i] + std::fabs(static_cast<double>(ref[i]))) + 1e-6;
      tol[i] = 2 * bound;
      worst = std::fmax(
          worst, std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i])) / bound);
    }
    if (std::getenv("SBERT_TEST_REPORT")) {
      WARN("bf16 attention backward D "
           << c.head_dim << " p " << c.dropout << ": max |dqkv - twin| "
           << max_abs_diff(got, twin_d) << ", |dqkv - fp32| " << max_abs_diff(got, ref)
           << " (max |fp32| " << max_abs_diff(ref, std::vector<float>(ref.size())) << ")"
           << ", error / derived bound " << worst);
    }
    // Twin: the same roundings; fp32 summation order may move an output by one bf16 unit in the
    // last place (2^-7 relative at most) and, rarely, put a dS or P o F on the other side of a
    // bf16 rounding (all of them: u M): allowed, 1/16 of that worst case.
    std::vector<double> ttol(twin_d.size());
    for (size_t i = 0; i < ttol.size(); ++i) {
      ttol[i] = 0x1p-7 * std::fabs(static_cast<double>(twin_d[i])) + 0x1p-12 * m[i] + 1e-6;
    }
    check_within(got, twin_d, ttol, "bf16 attention dqkv vs twin");
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
  CHECK_THROWS_WITH(cuda::attention_forward_bf16(O.get(), L.get(), QKV.get(), CU.get(), 1, 2, 1, 48,
                                                 DropoutSpec{}, rt),
                    Catch::Contains("[attention_forward_bf16] head_dim 48 is not supported"));
}

}  // namespace sbert::test
