// [.cudabench] (hidden; tests/gpu/run.sh runs it): the fp32 CUDA kernels at all-MiniLM-L6-v2's
// shapes (32 sequences x 128 tokens, hidden 384, 12 heads, intermediate 1536), each validated
// against the CPU once, then timed (mean of 20 runs after 3 warm-ups, host clock around a
// stream synchronize). Prints "bench <op> <ms>" lines.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <functional>

#include "core/context.h"
#include "core/rng.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace sbert::test {

namespace {
double time_ms(cuda::Runtime& rt, const std::function<void()>& f) {
  for (int i = 0; i < 3; ++i) f();
  rt.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) f();
  rt.synchronize();
  const std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
  return dt.count() / kRuns;
}
}  // namespace

TEST_CASE("cuda kernel benchmark at MiniLM shapes", "[.cudabench]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context gpu{Device::CUDA, 0, &rt};
  const Context cpu{Device::CPU, 0, nullptr};
  const int64_t nseq = 32, len = 128, H = 384, heads = 12, D = 32, I = 1536;
  const int64_t T = nseq * len;
  std::vector<int64_t> lengths(static_cast<size_t>(nseq), len);
  const auto cu = offsets_of(lengths);
  const auto x = randn(static_cast<size_t>(T * H), 1),
             wqkv = randn(static_cast<size_t>(3 * H * H), 2, 0.05f);
  const auto bqkv = randn(static_cast<size_t>(3 * H), 3);
  DropoutState st;
  st.seed = 1;
  st.training = true;
  const DropoutSpec drop = dropout_spec(st, 0.1f, 0, DropoutSite::AttentionProbs);

  auto CU = on_device(cu);
  auto X = on_device(x), W = on_device(wqkv), B = on_device(bqkv);
  cuda::DeviceBuffer<float> QKV(static_cast<size_t>(T * 3 * H)), O(static_cast<size_t>(T * H));
  cuda::DeviceBuffer<float> L(static_cast<size_t>(heads * T)), DQKV(QKV.size());
  cuda::DeviceBuffer<float> F(static_cast<size_t>(T * I)), G(F.size()),
      DW(static_cast<size_t>(3 * H * H));
  cuda::DeviceBuffer<float> DX(static_cast<size_t>(T * H)), M(static_cast<size_t>(T)), R(M.size());
  auto LW = on_device(randn(static_cast<size_t>(H), 4)),
       LB = on_device(randn(static_cast<size_t>(H), 5));
  cuda::DeviceBuffer<float> DLW(static_cast<size_t>(H)), DLB(static_cast<size_t>(H));

  // Validate once: QKV projection and attention (with dropout) against the CPU.
  std::vector<float> qkv(QKV.size()), out(O.size()), lse(L.size());
  ops::matmul_forward(cpu, {.out = qkv.data(),
                            .inp = x.data(),
                            .weight = wqkv.data(),
                            .bias = bqkv.data(),
                            .rows = T,
                            .k = H,
                            .n = 3 * H});
  ops::attention_forward(cpu, {.out = out.data(),
                               .lse = lse.data(),
                               .qkv = qkv.data(),
                               .cu_seqlens = cu.data(),
                               .nseq = nseq,
                               .heads = heads,
                               .head_dim = D,
                               .dropout = drop});
  ops::matmul_forward(gpu, {.out = QKV.get(),
                            .inp = X.get(),
                            .weight = W.get(),
                            .bias = B.get(),
                            .rows = T,
                            .k = H,
                            .n = 3 * H});
  ops::attention_forward(gpu, {.out = O.get(),
                               .lse = L.get(),
                               .qkv = QKV.get(),
                               .cu_seqlens = CU.get(),
                               .nseq = nseq,
                               .heads = heads,
                               .head_dim = D,
                               .dropout = drop});
  rt.synchronize();
  check_close(QKV.to_host(), qkv, 1e-4, 256 * kEpsF32, "bench: qkv projection");
  check_close(O.to_host(), out, 1e-4, 256 * kEpsF32, "bench: attention out");

  auto report = [](const char* op, double ms) {
    std::printf("bench %-32s %8.3f ms\n", op, ms);
    std::fflush(stdout);
  };
  report("matmul_forward (T,384)x(1152,384)", time_ms(rt, [&] {
           ops::matmul_forward(gpu, {.out = QKV.get(),
                                     .inp = X.get(),
                                     .weight = W.get(),
                                     .bias = B.get(),
                                     .rows = T,
                                     .k = H,
                                     .n = 3 * H});
         }));
  report("matmul_backward (same)", time_ms(rt, [&] {
           ops::matmul_backward(gpu, {.dinp = DX.get(),
                                      .dweight = DW.get(),
                                      .dout = QKV.get(),
                                      .inp = X.get(),
                                      .weight = W.get(),
                                      .rows = T,
                                      .k = H,
                                      .n = 3 * H});
         }));
  report("attention_forward (dropout)", time_ms(rt, [&] {
           ops::attention_forward(gpu, {.out = O.get(),
                                        .lse = L.get(),
                                        .qkv = QKV.get(),
                                        .cu_seqlens = CU.get(),
                                        .nseq = nseq,
                                        .heads = heads,
                                        .head_dim = D,
                                        .dropout = drop});
         }));
  report("attention_backward (dropout)", time_ms(rt, [&] {
           ops::attention_backward(gpu, {.dqkv = DQKV.get(),
                                         .dout = O.get(),
                                         .qkv = QKV.get(),
                                         .out = O.get(),
                                         .lse = L.get(),
                                         .cu_seqlens = CU.get(),
                                         .nseq = nseq,
                                         .heads = heads,
                                         .head_dim = D,
                                         .dropout = drop});
         }));
  report("layernorm_forward (T,384)", time_ms(rt, [&] {
           ops::layernorm_forward(gpu, {.out = DX.get(),
                                        .mean = M.get(),
                                        .rstd = R.get(),
                                        .a = X.get(),
                                        .weight = LW.get(),
                                        .bias = LB.get(),
                                        .rows = T,
                                        .C = H,
                                        .eps = 1e-12f});
         }));
  report("layernorm_backward (T,384)", time_ms(rt, [&] {
           ops::layernorm_backward(gpu, {.dinp = DX.get(),
                                         .dweight = DLW.get(),
                                         .dbias = DLB.get(),
                                         .dout = O.get(),
                                         .inp = X.get(),
                                         .weight = LW.get(),
                                         .mean = M.get(),
                                         .rstd = R.get(),
                                         .rows = T,
                                         .C = H});
         }));
  report("gelu_forward (T,1536)", time_ms(rt, [&] {
           ops::gelu_forward(gpu, {.out = G.get(), .inp = F.get(), .n = T * I});
         }));
  report("gelu_backward (T,1536)", time_ms(rt, [&] {
           ops::gelu_backward(gpu, {.dinp = G.get(), .inp = F.get(), .dout = G.get(), .n = T * I});
         }));
  report("dropout_forward (T,384)", time_ms(rt, [&] {
           ops::dropout_forward(gpu, {.out = DX.get(),
                                      .inp = X.get(),
                                      .n = T * H,
                                      .spec = dropout_spec(st, 0.1f, 0, DropoutSite::FfnOutput)});
         }));
}

}  // namespace sbert::test
