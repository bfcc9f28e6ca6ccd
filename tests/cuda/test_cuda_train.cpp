// [cuda] AdamW and the gradient-clipping kernels against the CPU, the Runtime and the dispatch
// errors. The error tests run everywhere (they need no device); the kernel tests skip without one.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "core/context.h"
#include "cpu/train_kernels.h"
#include "cuda/runtime.h"
#include "cuda/train_kernels.h"
#include "cuda_test_util.h"
#include "nn/bert_params.h"
#include "ops/ops.h"
#include "train/adamw.h"
#include "train/grad_norm.h"

namespace sbert::test {

TEST_CASE("cuda: a CUDA Context without a runtime is refused clearly", "[cuda]") {
  std::vector<float> x(8, 1.0f), y(8);
  const Context ctx{Device::CUDA, 0, nullptr};
  CHECK_THROWS_WITH(ops::gelu_forward(ctx, {.out = y.data(), .inp = x.data(), .n = 8}),
                    Catch::Contains("[gelu_forward] device cuda needs a CUDA runtime"));
  double dx[2] = {0, 0}, dy[2] = {1, 1}, xx[2] = {1, 2};
  CHECK_THROWS_WITH(ops::gelu_backward(ctx, {.dinp = dx, .inp = xx, .dout = dy, .n = 2}),
                    Catch::Contains("[gelu_backward] fp64 runs on the CPU only"));
}

TEST_CASE("cuda: Runtime without a device throws, device_count never does", "[cuda]") {
  const int n = cuda::device_count();
  CHECK(n >= 0);
  if (n == 0) {
    CHECK_THROWS_WITH(cuda::Runtime(0), Catch::Contains("[cuda]"));
  } else {
    CHECK_THROWS_WITH(cuda::Runtime(n), Catch::Contains("CUDA device(s) are present"));
    cuda::Runtime rt(0);
    CHECK(rt.device() == 0);
    CHECK((rt.stream() != nullptr));
    CHECK_FALSE(cuda::device_name(0).empty());
  }
}

TEST_CASE("cuda AdamW equals the CPU bit for bit - grad norm and scaling match", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  // Update 2 at lr 1e-3 with NeMo's defaults (betas 0.9, 0.98, weight decay 0.01, eps 1e-8).
  const cpu::AdamWScalars s = adamw_scalars(AdamWConfig{}, 1e-3, 2);
  const size_t n = 3 * 4096 + 7;
  auto p = randn(n, 70), m = randn(n, 71, 0.01f), v = randn(n, 72, 1e-3f);
  for (float& x : v) x = x * x;
  const auto grad = randn(n, 73);
  auto P = on_device(p), M = on_device(m), Vd = on_device(v), G = on_device(grad);
  for (int step = 0; step < 3; ++step) {
    cpu::adamw_update(p.data(), m.data(), v.data(), grad.data(), static_cast<int64_t>(n), s);
    cuda::adamw_update(P.get(), M.get(), Vd.get(), G.get(), static_cast<int64_t>(n), s, rt);
  }
  rt.synchronize();
  check_bitwise(P.to_host(), p, "adamw param after 3 steps");
  check_bitwise(M.to_host(), m, "adamw m");
  check_bitwise(Vd.to_host(), v, "adamw v");

  const double ref = cpu::sum_squares(grad.data(), static_cast<int64_t>(n));
  const double got = cuda::sum_squares(G.get(), static_cast<int64_t>(n), rt);
  CHECK(got == Approx(ref).epsilon(1e-12));
  CHECK(cuda::sum_squares(G.get(), static_cast<int64_t>(n), rt) == got);  // deterministic
  std::vector<float> scaled = grad;
  cpu::scale_inplace(scaled.data(), static_cast<int64_t>(n), 0.37f);
  cuda::scale_inplace(G.get(), static_cast<int64_t>(n), 0.37f, rt);
  rt.synchronize();
  check_bitwise(G.to_host(), scaled, "scale_inplace");
}

TEST_CASE("cuda AdamW over a model's parameter block: one launch, the CPU's bits", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  // tiny-bert's layout: decayed weights and undecayed biases / LayerNorms, interleaved.
  ModelConfig cfg;
  cfg.vocab_size = 50, cfg.hidden_size = 32, cfg.num_layers = 2, cfg.num_heads = 4;
  cfg.intermediate_size = 64, cfg.max_position_embeddings = 16;
  const ParamLayout layout = make_bert_layout(cfg);
  const auto n = static_cast<size_t>(layout.total);
  AdamWConfig acfg;
  acfg.weight_decay = 0.1;  // large enough that a wrong decay flag changes the bits
  AdamW on_cpu(layout, acfg);
  AdamW on_gpu(layout, acfg, Context{Device::CUDA, 0, &rt});
  auto p = randn(n, 80);
  auto P = on_device(p);
  for (int step = 0; step < 3; ++step) {
    const auto g = randn(n, static_cast<uint32_t>(81 + step));
    auto G = on_device(g);
    on_cpu.step(p.data(), g.data(), 1e-3 * (step + 1));
    on_gpu.step(P.get(), G.get(), 1e-3 * (step + 1));
    rt.synchronize();
  }
  check_bitwise(P.to_host(), p, "params after 3 steps");
  std::vector<float> m(n), v(n);
  on_gpu.read_state(m.data(), v.data());
  check_bitwise(m, std::vector<float>(on_cpu.exp_avg(), on_cpu.exp_avg() + n), "m");
  check_bitwise(v, std::vector<float>(on_cpu.exp_avg_sq(), on_cpu.exp_avg_sq() + n), "v");
}

TEST_CASE("cuda clipping with no host round trip equals the round-trip path bit for bit",
          "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context ctx{Device::CUDA, 0, &rt};
  const size_t n = 5 * 4096 + 123;
  const auto g0 = randn(n, 90);
  auto with_inf = g0;
  with_inf[4097] = std::numeric_limits<float>::infinity();
  struct Case {
    const char* what;
    const std::vector<float>* grads;
    double max_norm;
  };
  for (const Case c : {Case{"clips", &g0, 1.0}, Case{"below the limit", &g0, 1e9},
                       Case{"norm only", &g0, 0.0}, Case{"an inf gradient", &with_inf, 1.0}}) {
    INFO(c.what);
    // The round-trip path: the sum on the host, the coefficient there, then the scaling.
    auto A = on_device(*c.grads), B = on_device(*c.grads);
    const double ss = cuda::sum_squares(A.get(), static_cast<int64_t>(n), rt);
    scale_grads(ctx, A.get(), static_cast<int64_t>(n), clip_coefficient(ss, c.max_norm));
    // Queued: everything on the device.
    cuda::DeviceBuffer<double> norm(1);
    clip_grad_norm_queued(ctx, B.get(), static_cast<int64_t>(n), c.max_norm, norm.get());
    rt.synchronize();
    const double queued = norm.to_host()[0];
    const double expect = std::sqrt(ss);
    CHECK((queued == expect || (std::isnan(queued) && std::isnan(expect))));
    check_bitwise(B.to_host(), A.to_host(), "clipped gradients");
    // And the CPU's clip_grad_norm: the same norm to 1e-12, the same clipping.
    std::vector<float> h = *c.grads;
    const double cpu_norm =
        clip_grad_norm(Context{}, h.data(), static_cast<int64_t>(n), c.max_norm);
    if (std::isfinite(cpu_norm)) CHECK(queued == Approx(cpu_norm).epsilon(1e-12));
  }
}

}  // namespace sbert::test
