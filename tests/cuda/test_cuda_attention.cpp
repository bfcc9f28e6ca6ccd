// [cuda] fused attention forward/backward against cpu/attention.cpp on packed sequences whose
// lengths cross the tile sizes (16, 32) and exceed the 8 tile-blocks of a sequence (300), for
// head dims of every kernel bucket (4 as tiny-bert, 32 as MiniLM, 48, 64, 128), with and
// without probability dropout. Skips without a device.
#include <catch2/catch.hpp>

#include "core/context.h"
#include "core/rng.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace sbert::test {

namespace {

struct AttnCase {
  int64_t heads, head_dim;
  std::vector<int64_t> lengths;
};

}  // namespace

TEST_CASE("cuda attention forward/backward match the CPU", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context gpu{Device::CUDA, 0, &rt};
  const Context cpu{Device::CPU, 2, nullptr};
  const std::vector<AttnCase> cases = {
      {2, 4, {3, 1, 5, 2}},  {3, 32, {1, 17, 33, 64, 300}}, {2, 48, {31, 32, 65}},
      {2, 64, {1, 40, 300}}, {2, 128, {15, 16, 17, 300}},
  };
  DropoutState st;
  st.seed = 99;
  st.step = 3;
  st.training = true;
  for (const AttnCase& c : cases) {
    for (float p : {0.0f, 0.1f}) {
      INFO("heads " << c.heads << " head_dim " << c.head_dim << " dropout " << p);
      const DropoutSpec spec = dropout_spec(st, p, 1, DropoutSite::AttentionProbs);
      const std::vector<int64_t> cu = offsets_of(c.lengths);
      const int64_t nseq = static_cast<int64_t>(c.lengths.size()), T = cu.back();
      const int64_t H = c.heads * c.head_dim;
      const auto qkv = randn(static_cast<size_t>(T * 3 * H), 60, 1.5f);
      const auto dout = randn(static_cast<size_t>(T * H), 61);

      std::vector<float> out(static_cast<size_t>(T * H)), lse(static_cast<size_t>(c.heads * T));
      std::vector<float> dqkv(qkv.size());
      ops::attention_forward(cpu, {.out = out.data(),
                                   .lse = lse.data(),
                                   .qkv = qkv.data(),
                                   .cu_seqlens = cu.data(),
                                   .nseq = nseq,
                                   .heads = c.heads,
                                   .head_dim = c.head_dim,
                                   .dropout = spec});
      ops::attention_backward(cpu, {.dqkv = dqkv.data(),
                                    .dout = dout.data(),
                                    .qkv = qkv.data(),
                                    .out = out.data(),
                                    .lse = lse.data(),
                                    .cu_seqlens = cu.data(),
                                    .nseq = nseq,
                                    .heads = c.heads,
                                    .head_dim = c.head_dim,
                                    .dropout = spec});

      auto CU = on_device(cu);
      auto QKV = on_device(qkv), DO = on_device(dout);
      cuda::DeviceBuffer<float> O(out.size()), L(lse.size()), DQKV(qkv.size());
      ops::attention_forward(gpu, {.out = O.get(),
                                   .lse = L.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = nseq,
                                   .heads = c.heads,
                                   .head_dim = c.head_dim,
                                   .dropout = spec});
      ops::attention_backward(gpu, {.dqkv = DQKV.get(),
                                    .dout = DO.get(),
                                    .qkv = QKV.get(),
                                    .out = O.get(),
                                    .lse = L.get(),
                                    .cu_seqlens = CU.get(),
                                    .nseq = nseq,
                                    .heads = c.heads,
                                    .head_dim = c.head_dim,
                                    .dropout = spec});
      rt.synchronize();
      // Online softmax and tile-order sums round differently from the CPU's row-at-once
      // softmax: an fp32 reordering error, growing with the sequence length.
      check_close(O.to_host(), out, 2e-5, 256 * kEpsF32, "attention out");
      check_close(L.to_host(), lse, 2e-5, 16 * kEpsF32, "attention lse");
      check_close(DQKV.to_host(), dqkv, 5e-5, 512 * kEpsF32, "attention dqkv");

      // Deterministic: a second backward gives the same bits.
      cuda::DeviceBuffer<float> DQKV2(qkv.size());
      ops::attention_backward(gpu, {.dqkv = DQKV2.get(),
                                    .dout = DO.get(),
                                    .qkv = QKV.get(),
                                    .out = O.get(),
                                    .lse = L.get(),
                                    .cu_seqlens = CU.get(),
                                    .nseq = nseq,
                                    .heads = c.heads,
                                    .head_dim = c.head_dim,
                                    .dropout = spec});
      rt.synchronize();
      check_bitwise(DQKV2.to_host(), DQKV.to_host(), "attention backward, second run");
    }
  }
}

TEST_CASE("cuda attention refuses head dims above 128", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context gpu{Device::CUDA, 0, &rt};
  const std::vector<int64_t> cu = {0, 2};
  auto CU = on_device(cu);
  cuda::DeviceBuffer<float> QKV(2 * 3 * 256), O(2 * 256), L(2);
  CHECK_THROWS_WITH(ops::attention_forward(gpu, {.out = O.get(),
                                                 .lse = L.get(),
                                                 .qkv = QKV.get(),
                                                 .cu_seqlens = CU.get(),
                                                 .nseq = 1,
                                                 .heads = 1,
                                                 .head_dim = 256}),
                    Catch::Contains("[attention_forward] head_dim 256 is not supported on CUDA"));
}

}  // namespace sbert::test
