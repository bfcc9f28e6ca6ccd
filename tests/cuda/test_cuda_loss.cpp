// [cuda] The fused contrastive loss on the device (cuda/loss.cu) against its CPU twin
// (cpu/loss.cpp) on random inputs: both modes, with and without hard negatives, masked slots
// (left unwritten on the device: the emulator's initcheck proves they are never read), label
// smoothing, several row blocks, clamped scores and argmax ties. Both compute in double: the
// loss and statistics must agree to 1e-12 relative, the float gradients to one float rounding
// (they are the same doubles, rounded).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "core/context.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "ops/ops.h"
#include "train/loss.h"

namespace sbert::test {

namespace {

struct Inputs {
  int64_t B, K, H;
  std::vector<float> q, p, n;
  std::vector<uint8_t> mask;
};

// Rows of norm 0.9 .. 1.15 (so some scores pass the clamp at 1); positive i near query i;
// positives 0 and 1 equal and query 1 near them, so rows 0 and 1 tie at the clamp (first max).
Inputs make_inputs(int64_t B, int64_t K, int64_t H, uint32_t seed, bool masked) {
  Inputs in{B, K, H, randn(static_cast<size_t>(B * H), seed), {}, {}, {}};
  in.p = in.q;
  const auto noise = randn(static_cast<size_t>(B * H), seed + 1, 0.3f);
  for (size_t e = 0; e < in.p.size(); ++e) in.p[e] += noise[e];
  in.n = randn(static_cast<size_t>(B * K * H), seed + 2);
  if (B >= 2) {
    std::copy_n(in.p.data(), H, in.p.data() + H);
    std::copy_n(in.p.data(), H, in.q.data() + H);
    std::copy_n(in.p.data(), H, in.q.data());
  }
  auto normalize = [&](std::vector<float>& x, int64_t rows, uint32_t s) {
    const auto len = randn(static_cast<size_t>(rows), s);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t h = 0; h < H; ++h) ss += double(x[r * H + h]) * double(x[r * H + h]);
      const double target = 1.025 + 0.125 * std::tanh(double(len[r]));
      for (int64_t h = 0; h < H; ++h) x[r * H + h] = float(double(x[r * H + h]) * target / std::sqrt(ss));
    }
  };
  normalize(in.q, B, seed + 3);
  normalize(in.p, B, seed + 4);
  normalize(in.n, B * K, seed + 5);
  if (B >= 2) {  // queries 0, 1 and positives 0, 1: one direction, norm 1.1 (scores 1.21)
    for (auto* x : {&in.q, &in.p}) {
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t h = 0; h < H; ++h) (*x)[r * H + h] = in.p[h];
      }
    }
    for (auto* x : {&in.q, &in.p}) normalize(*x, 2, seed + 6);
    for (auto* x : {&in.q, &in.p}) {
      double ss = 0;
      for (int64_t h = 0; h < H; ++h) ss += double((*x)[h]) * double((*x)[h]);
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t h = 0; h < H; ++h) (*x)[r * H + h] = float(double((*x)[h]) * 1.1 / std::sqrt(ss));
      }
    }
  }
  in.mask.assign(static_cast<size_t>(B * K), 1);
  if (masked) {
    for (int64_t s = 0; s < B * K; ++s) in.mask[s] = (s * 7 + 3) % 5 == 0 ? 0 : 1;
    // A masked slot may hold anything on the CPU too (it zeroes them).
    for (int64_t s = 0; s < B * K; ++s) {
      if (!in.mask[s]) {
        std::fill_n(in.n.data() + s * H, H, std::numeric_limits<float>::quiet_NaN());
      }
    }
  }
  return in;
}

double rel(double got, double ref) {
  return std::fabs(got - ref) / std::max(std::fabs(ref), 1e-300);
}

// Element-wise: |gpu - cpu| within one float rounding of the value (gradients are the same
// doubles rounded to float). Returns the count of elements that differ at all.
size_t check_grad(const std::vector<float>& got, const std::vector<float>& ref, const char* what) {
  REQUIRE(got.size() == ref.size());
  size_t diff = 0, bad = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    const double g = got[e], r = ref[e];
    if (g != r) ++diff;
    if (!(std::fabs(g - r) <= kEpsF32 * std::fabs(r) + 1e-30)) ++bad;
  }
  INFO(what << ": " << diff << " of " << ref.size() << " elements differ, " << bad
            << " by more than a float rounding");
  CHECK(bad == 0);
  return diff;
}

struct Worst {
  double stats = 0.0;
  size_t grad_diffs = 0;
};

void compare(const Inputs& in, const LossConfig& cfg, cuda::Runtime& rt, Worst& worst) {
  const int64_t B = in.B, K = in.K, H = in.H, NK = B * K;
  const uint8_t* hmask = K > 0 ? in.mask.data() : nullptr;
  std::vector<float> dq(B * H), dp(B * H), dn(NK * H);
  const Context cpu{Device::CPU, 2};
  const LossStats ref = contrastive_loss(cpu, cfg, dq.data(), dp.data(), dn.data(), in.q.data(),
                                         in.p.data(), in.n.data(), hmask, B, K, H);

  auto Q = on_device(in.q), P = on_device(in.p);
  cuda::DeviceBuffer<float> N(static_cast<size_t>(NK * H));
  for (int64_t s = 0; s < NK; ++s) {  // masked rows are never written: reading one would fail
    if (in.mask[s]) {
      cuda::copy_to_device(N.get() + s * H, in.n.data() + s * H, H * sizeof(float));
    }
  }
  auto Mask = on_device(in.mask);
  cuda::DeviceBuffer<float> dQ(B * H), dP(B * H), dN(NK * H);
  const Context gpu{Device::CUDA, 2, &rt};
  const LossStats got =
      contrastive_loss(gpu, cfg, dQ.get(), dP.get(), dN.get(), Q.get(), P.get(), N.get(),
                       K > 0 ? Mask.get() : nullptr, B, K, H);

  INFO("B " << B << " K " << K << " H " << H << " mode " << to_string(cfg.mode) << " smoothing "
            << cfg.label_smoothing << " block_rows " << cfg.block_rows);
  INFO("loss cpu " << ref.loss << " gpu " << got.loss << ", accuracy cpu " << ref.accuracy
                   << " gpu " << got.accuracy);
  const double r = std::max({rel(got.loss, ref.loss), rel(got.pos_score, ref.pos_score),
                             rel(got.inbatch_neg_score, ref.inbatch_neg_score),
                             rel(got.hard_neg_score, ref.hard_neg_score)});
  worst.stats = std::max(worst.stats, r);
  CHECK(r <= 1e-12);
  CHECK(got.accuracy == ref.accuracy);
  CHECK(got.hard_negatives == ref.hard_negatives);
  worst.grad_diffs += check_grad(dQ.to_host(), dq, "dq");
  worst.grad_diffs += check_grad(dP.to_host(), dp, "dp");
  if (NK > 0) worst.grad_diffs += check_grad(dN.to_host(), dn, "dn");

  // Forward only: the same statistics, bit for bit (the same kernels, no gradient pass).
  const LossStats fwd = contrastive_loss(gpu, cfg, nullptr, nullptr, nullptr, Q.get(), P.get(),
                                         N.get(), K > 0 ? Mask.get() : nullptr, B, K, H);
  CHECK(fwd.loss == got.loss);
  CHECK(fwd.accuracy == got.accuracy);
}

}  // namespace

TEST_CASE("cuda contrastive loss matches the CPU in both modes", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  Worst worst;
  for (LossMode mode : {LossMode::ExclusiveHardNegatives, LossMode::SharedNegatives}) {
    for (int64_t K : {0, 3}) {
      for (bool masked : {false, true}) {
        if (K == 0 && masked) continue;
        for (double eps : {0.0, 0.1}) {
          LossConfig cfg;
          cfg.mode = mode;
          cfg.label_smoothing = eps;
          const Inputs in = make_inputs(6, K, 40, 100 + static_cast<uint32_t>(K), masked);
          compare(in, cfg, rt, worst);
          cfg.block_rows = 4;  // two row blocks (4 + 2): dP and shared dN accumulate
          compare(in, cfg, rt, worst);
        }
      }
    }
  }
  WARN("cuda loss vs CPU: worst relative difference of loss / scores "
       << worst.stats << ", float gradient elements differing from the CPU's "
       << worst.grad_diffs);
}

TEST_CASE("cuda contrastive loss: the clamp ties pick the first column, runs are reproducible",
          "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Inputs in = make_inputs(5, 2, 33, 7, true);
  LossConfig cfg;  // NeMo's: clamp, softmax_temp 0.02
  const Context cpu{Device::CPU, 2};
  const LossStats ref = contrastive_loss(cpu, cfg, nullptr, nullptr, nullptr, in.q.data(),
                                         in.p.data(), in.n.data(), in.mask.data(), 5, 2, 33);
  // Rows 0 and 1 both score 1 (clamped) against positives 0 and 1: row 0 is right, row 1 not.
  CHECK(ref.accuracy <= 0.8);
  Worst worst;
  compare(in, cfg, rt, worst);
  // Twice the same call: the same bits (fixed summation order, no atomics).
  auto Q = on_device(in.q), P = on_device(in.p), N = on_device(in.n);
  auto M = on_device(in.mask);
  const Context gpu{Device::CUDA, 2, &rt};
  cuda::DeviceBuffer<float> dQ(5 * 33), dQ2(5 * 33);
  const LossStats a = contrastive_loss(gpu, cfg, dQ.get(), nullptr, nullptr, Q.get(), P.get(),
                                       N.get(), M.get(), 5, 2, 33);
  const LossStats b = contrastive_loss(gpu, cfg, dQ2.get(), nullptr, nullptr, Q.get(), P.get(),
                                       N.get(), M.get(), 5, 2, 33);
  CHECK(a.loss == b.loss);
  check_bitwise(dQ2.to_host(), dQ.to_host(), "dq of a second run");
}

TEST_CASE("cuda contrastive loss: reserved once, a step allocates nothing", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context gpu{Device::CUDA, 2, &rt};
  const int64_t B = 6, K = 2, H = 24;
  const Inputs in = make_inputs(B, K, H, 31, true);
  auto Q = on_device(in.q), P = on_device(in.p), N = on_device(in.n);
  auto M = on_device(in.mask);
  cuda::DeviceBuffer<float> dQ(B * H), dP(B * H), dN(B * K * H);
  for (LossMode mode : {LossMode::ExclusiveHardNegatives, LossMode::SharedNegatives}) {
    LossConfig cfg;
    cfg.mode = mode;
    CHECK(contrastive_loss_reserve_bytes(gpu, cfg, B, K, H) > 0);
    CHECK(contrastive_loss_reserve_bytes(Context{}, cfg, B, K, H) == 0);
    reserve_contrastive_loss(gpu, cfg, B, K, H);
    const size_t in_use = cuda::device_memory_in_use();
    contrastive_loss(gpu, cfg, dQ.get(), dP.get(), dN.get(), Q.get(), P.get(), N.get(), M.get(),
                     B, K, H);
    contrastive_loss(gpu, cfg, nullptr, nullptr, nullptr, Q.get(), P.get(), N.get(), M.get(), B,
                     K, H);
    CHECK(cuda::device_memory_in_use() == in_use);
  }
}

}  // namespace sbert::test
