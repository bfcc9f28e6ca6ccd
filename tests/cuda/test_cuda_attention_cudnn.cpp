// [cuda] model.attention_backend cudnn (cuda/attention_cudnn.cu): cuDNN's fused SDPA forward and
// backward against our bf16 attention (cuda/attention_mixed.cu) on ragged packed batches, within
// bf16 bounds (two bf16 attentions of the same bf16 inputs differ by their own roundings of P and
// O: a relative L2 error of a few bf16 ulps). Builds without cuDNN (the CPU build, the SIMT
// emulator, a CUDA build that found no cuDNN) check instead that the backend refuses with its
// one-line error; a real GPU build with cuDNN must run the comparison.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "cuda/mixed.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace sbert::test {

namespace {

constexpr const char* kNoCudnn =
    "[attention] model.attention_backend cudnn needs cuDNN on a CUDA GPU (this build has none)";

// ||got - ref|| / ||ref||, in double.
double rel_l2(const std::vector<float>& got, const std::vector<float>& ref) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - static_cast<double>(ref[i]);
    num += d * d;
    den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

double max_abs_diff(const std::vector<float>& got, const std::vector<float>& ref) {
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    worst = std::isfinite(d) ? std::max(worst, d) : 1e30;
  }
  return worst;
}

struct CudnnCase {
  int64_t heads, head_dim;
  std::vector<int64_t> lengths;
};

}  // namespace

TEST_CASE("cuda cudnn attention matches our bf16 attention or is refused without cuDNN", "[cuda]") {
  if (!cuda::cudnn_attention_built()) {
    // No cuDNN in this build. The CPU build has no device (and no Runtime to pass); the
    // emulator and a CUDA build without cuDNN have one, and both entry points must refuse.
    if (cuda::device_count() == 0) {
      WARN("no CUDA device (CPU-only build): the cuDNN attention test checks nothing more");
      return;
    }
    cuda::Runtime rt;
    const DropoutSpec none;
    CHECK_THROWS_WITH(
        cuda::attention_forward_cudnn(
            {.nseq = 1, .heads = 1, .head_dim = 64, .dropout = none, .dims = {1, 1}}, rt),
        kNoCudnn);
    CHECK_THROWS_WITH(
        cuda::attention_backward_cudnn(
            {.nseq = 1, .heads = 1, .head_dim = 64, .dropout = none, .dims = {1, 1}}, rt),
        kNoCudnn);
    return;
  }
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const std::vector<CudnnCase> cases = {
      {2, 64, {1, 17, 64, 130}},  // lengths around FlashAttention's 64-row tiles
      {4, 64, {128, 5, 33}},
      {2, 128, {65, 1, 100}},
      {3, 32, {16, 64, 7}},
  };
  for (const CudnnCase& c : cases) {
    INFO("heads " << c.heads << " head_dim " << c.head_dim);
    const std::vector<int64_t> cu = offsets_of(c.lengths);
    const int64_t nseq = static_cast<int64_t>(c.lengths.size()), T = cu.back();
    const int64_t H = c.heads * c.head_dim;
    const int64_t longest = *std::max_element(c.lengths.begin(), c.lengths.end());
    const auto qkv = randn(static_cast<size_t>(T * 3 * H), 90 + static_cast<uint32_t>(H), 1.5f);
    const auto dout = randn(static_cast<size_t>(T * H), 91 + static_cast<uint32_t>(H));
    auto CU = on_device(cu);
    auto QKV = on_device(qkv);
    auto DOUT = on_device(dout);
    const DropoutSpec none;

    cuda::DeviceBuffer<float> O1(static_cast<size_t>(T * H)), L1(static_cast<size_t>(c.heads * T));
    cuda::DeviceBuffer<float> O2(O1.size()), L2(L1.size());
    cuda::attention_forward_mixed({.out = O1.get(),
                                   .lse = L1.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = nseq,
                                   .heads = c.heads,
                                   .head_dim = c.head_dim,
                                   .dropout = none,
                                   .dims = {T, longest}},
                                  rt);
    cuda::attention_forward_cudnn({.out = O2.get(),
                                   .lse = L2.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = nseq,
                                   .heads = c.heads,
                                   .head_dim = c.head_dim,
                                   .dropout = none,
                                   .dims = {T, longest}},
                                  rt);
    const auto o_ours = O1.to_host(), o_cudnn = O2.to_host();
    const auto l_ours = L1.to_host(), l_cudnn = L2.to_host();
    INFO("out rel L2 " << rel_l2(o_cudnn, o_ours) << ", lse max |diff| "
                       << max_abs_diff(l_cudnn, l_ours));
    CHECK(rel_l2(o_cudnn, o_ours) < 1e-2);
    CHECK(max_abs_diff(l_cudnn, l_ours) < 2e-2);  // both from the same bf16 scores, fp32 sums

    // Each backward reads its own forward's out and lse.
    cuda::DeviceBuffer<float> D1(static_cast<size_t>(T * 3 * H)), D2(D1.size());
    cuda::attention_backward_mixed({.dqkv = D1.get(),
                                    .dout = DOUT.get(),
                                    .qkv = QKV.get(),
                                    .out = O1.get(),
                                    .lse = L1.get(),
                                    .cu_seqlens = CU.get(),
                                    .nseq = nseq,
                                    .heads = c.heads,
                                    .head_dim = c.head_dim,
                                    .dropout = none,
                                    .dims = {T, longest}},
                                   rt);
    cuda::attention_backward_cudnn({.dqkv = D2.get(),
                                    .dout = DOUT.get(),
                                    .qkv = QKV.get(),
                                    .out = O2.get(),
                                    .lse = L2.get(),
                                    .cu_seqlens = CU.get(),
                                    .nseq = nseq,
                                    .heads = c.heads,
                                    .head_dim = c.head_dim,
                                    .dropout = none,
                                    .dims = {T, longest}},
                                   rt);
    const auto d_ours = D1.to_host(), d_cudnn = D2.to_host();
    // dQ, dK, dV separately: each has its own scale.
    for (int part = 0; part < 3; ++part) {
      std::vector<float> a, b;
      for (int64_t t = 0; t < T; ++t) {
        const auto at = static_cast<size_t>(t * 3 * H + part * H);
        a.insert(a.end(), d_cudnn.begin() + at, d_cudnn.begin() + at + H);
        b.insert(b.end(), d_ours.begin() + at, d_ours.begin() + at + H);
      }
      INFO("d"
           << "qkv"[part] << " rel L2 " << rel_l2(a, b));
      CHECK(rel_l2(a, b) < 2e-2);
    }
  }
  // Dropout cannot be reproduced: refused, naming the key.
  DropoutSpec drop;
  drop.p = 0.1f;
  CHECK_THROWS_WITH(
      cuda::attention_forward_cudnn(
          {.nseq = 1, .heads = 1, .head_dim = 64, .dropout = drop, .dims = {1, 1}}, rt),
      Catch::Contains("model.attention_dropout: 0"));
}

TEST_CASE("cuda cudnn attention outside bf16-mixed is refused by the dispatch", "[cuda]") {
  if (cuda::device_count() == 0) {
    WARN("no CUDA device: dispatch refusal not checked");
    return;
  }
  cuda::Runtime rt;
  Context ctx;
  ctx.device = Device::CUDA;
  ctx.cuda = &rt;
  ctx.cudnn_attention = true;  // and bf16 false: fp32
  CHECK_THROWS_WITH(ops::attention_forward(
                        ctx, AttentionForwardArgs<float>{.nseq = 1, .heads = 1, .head_dim = 64}),
                    Catch::Contains("model.attention_backend cudnn needs trainer.precision "
                                    "bf16-mixed on a CUDA GPU"));
}

}  // namespace sbert::test
