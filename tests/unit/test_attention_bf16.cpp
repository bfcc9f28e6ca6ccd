// The CPU twin of the bf16 tensor-core attention (cpu/attention_bf16.cpp) against the fp32
// attention (cpu/attention.cpp) on the same bf16 inputs, within the bounds derived in
// docs/kernels.md. The [cuda] test holds the kernel to the twin; this holds the twin to fp32 in
// every build, GPU or not. Lengths on and around the 64-key tiles, head dims 32, 64, 128, with
// and without dropout.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "cpu/attention_bf16.h"
#include "cpu/kernels.h"
#include "support/attention_bf16_bounds.h"

namespace sbert::test {

namespace {

std::vector<uint16_t> randn_bf16(size_t n, uint32_t seed, float sigma) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<uint16_t> v(n);
  for (uint16_t& x : v) x = f32_to_bf16(dist(gen));
  return v;
}

}  // namespace

TEST_CASE("bf16 attention twin stays within the derived bounds of the fp32 attention",
          "[attention][bf16]") {
  const std::vector<int64_t> lengths = {1, 15, 16, 17, 63, 64, 65, 130};
  std::vector<int64_t> cu(1, 0);
  for (int64_t l : lengths) cu.push_back(cu.back() + l);
  const int64_t nseq = static_cast<int64_t>(lengths.size()), T = cu.back(), heads = 2;
  DropoutState st;
  st.seed = 3;
  st.step = 4;
  st.training = true;
  for (int64_t D : {32, 64, 128}) {
    for (float p : {0.0f, 0.1f}) {
      INFO("head_dim " << D << " dropout " << p);
      const DropoutSpec spec = dropout_spec(st, p, 0, DropoutSite::AttentionProbs);
      const int64_t H = heads * D;
      const auto qkv = randn_bf16(static_cast<size_t>(T * 3 * H), static_cast<uint32_t>(D), 1.5f);
      const auto dout = randn_bf16(static_cast<size_t>(T * H), 1000 + static_cast<uint32_t>(D), 1);
      const std::vector<float> x = widen(qkv), dy = widen(dout);

      std::vector<uint16_t> out(static_cast<size_t>(T * H)), dqkv(qkv.size());
      std::vector<float> lse(static_cast<size_t>(heads * T));
      cpu::attention_forward_bf16(out.data(), lse.data(), qkv.data(), cu.data(), nseq, heads, D,
                                  spec);
      cpu::attention_backward_bf16(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(),
                                   cu.data(), nseq, heads, D, spec);

      std::vector<float> ref(out.size()), ref_lse(lse.size());
      cpu::attention_forward({.out = ref.data(),
                              .lse = ref_lse.data(),
                              .qkv = x.data(),
                              .cu_seqlens = cu.data(),
                              .nseq = nseq,
                              .heads = heads,
                              .head_dim = D,
                              .dropout = spec});
      const std::vector<float> o = widen(out), a = forward_scales(x, cu, heads, D, spec);
      std::vector<double> tol(ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {  // twice u (A + |out|), u = 2^-8
        tol[i] =
            2 *
            (0x1p-8 * (static_cast<double>(a[i]) + std::fabs(static_cast<double>(ref[i]))) + 1e-6);
      }
      check_within(o, ref, tol, "bf16 twin out vs fp32 attention");
      std::vector<double> ltol(lse.size());
      for (size_t i = 0; i < lse.size(); ++i) {
        ltol[i] = 1e-5 + 1e-5 * std::fabs(static_cast<double>(ref_lse[i]));
      }
      check_within(lse, ref_lse, ltol, "bf16 twin lse vs fp32 attention");

      // The backward on the twin's own forward (its bf16 out and lse), as training runs it.
      std::vector<float> dref(qkv.size());
      cpu::attention_backward({.dqkv = dref.data(),
                               .dout = dy.data(),
                               .qkv = x.data(),
                               .out = o.data(),
                               .lse = lse.data(),
                               .cu_seqlens = cu.data(),
                               .nseq = nseq,
                               .heads = heads,
                               .head_dim = D,
                               .dropout = spec});
      const std::vector<double> m = backward_scales(x, dy, o, lse, cu, heads, D, spec);
      std::vector<double> dtol(dref.size());
      for (size_t i = 0; i < dref.size(); ++i) {  // twice u (M + |ref|)
        dtol[i] = 2 * (0x1p-8 * (m[i] + std::fabs(static_cast<double>(dref[i]))) + 1e-6);
      }
      check_within(widen(dqkv), dref, dtol, "bf16 twin dqkv vs fp32 attention backward");
    }
  }
}

TEST_CASE("bf16 attention twin refuses non-positive sizes", "[attention][bf16]") {
  const std::vector<int64_t> cu = {0, 1};
  std::vector<uint16_t> qkv(96), out(32), dqkv(96);
  std::vector<float> lse(1);
  CHECK_THROWS_WITH(
      cpu::attention_forward_bf16(out.data(), lse.data(), qkv.data(), cu.data(), 1, 0, 32),
      Catch::Contains("[attention_forward_bf16] heads and head_dim must be"));
  CHECK_THROWS_WITH(cpu::attention_backward_bf16(dqkv.data(), out.data(), qkv.data(), out.data(),
                                                 lse.data(), cu.data(), 1, 1, 0),
                    Catch::Contains("[attention_backward_bf16] heads and head_dim must be"));
}

}  // namespace sbert::test
