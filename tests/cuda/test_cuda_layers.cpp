// [cuda] every element-wise / row-wise / GEMM kernel of cuda/ against its cpu/ twin on random
// inputs, called through ops:: (the dispatch) with a CUDA Context. Skips without a device.
#include <catch2/catch.hpp>

#include "core/context.h"
#include "core/rng.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace sbert::test {

namespace {

struct Gpu {
  cuda::Runtime rt;
  Context ctx{Device::CUDA, 0, &rt};
  Context cpu{Device::CPU, 2, nullptr};
};

std::vector<float> host(const cuda::DeviceBuffer<float>& d, cuda::Runtime& rt) {
  rt.synchronize();
  return d.to_host();
}

}  // namespace

TEST_CASE("cuda matmul forward/backward match the CPU (cuBLASLt, fp32)", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t rows = 37, k = 64, n = 48;
  // The weight and bias are read at an offset of one float from a larger block, as views into
  // the parameter block can be: cuBLASLt must get the alignment right, the bias the fallback.
  for (int64_t offset : {0, 1}) {
    INFO("pointer offset " << offset);
    const auto x = randn(static_cast<size_t>(rows * k), 1);
    const auto wblock = randn(static_cast<size_t>(n * k + 1), 2, 0.2f);
    const auto bblock = randn(static_cast<size_t>(n + 1), 3);
    const auto dy = randn(static_cast<size_t>(rows * n), 4);
    const auto dw0 = randn(static_cast<size_t>(n * k), 5);  // accumulated into
    const auto db0 = randn(static_cast<size_t>(n), 6);
    const float* w = wblock.data() + offset;
    const float* b = bblock.data() + offset;

    std::vector<float> y(static_cast<size_t>(rows * n)), dx(static_cast<size_t>(rows * k));
    std::vector<float> dw = dw0, db = db0;
    ops::matmul_forward(
        g.cpu,
        {.out = y.data(), .inp = x.data(), .weight = w, .bias = b, .rows = rows, .k = k, .n = n});
    ops::matmul_backward(g.cpu, {.dinp = dx.data(),
                                 .dweight = dw.data(),
                                 .dbias = db.data(),
                                 .dout = dy.data(),
                                 .inp = x.data(),
                                 .weight = w,
                                 .rows = rows,
                                 .k = k,
                                 .n = n});

    auto X = on_device(x), W = on_device(wblock), Bv = on_device(bblock), DY = on_device(dy);
    auto DW = on_device(dw0), DB = on_device(db0);
    cuda::DeviceBuffer<float> Y(y.size()), DX(dx.size());
    ops::matmul_forward(g.ctx, {.out = Y.get(),
                                .inp = X.get(),
                                .weight = W.get() + offset,
                                .bias = Bv.get() + offset,
                                .rows = rows,
                                .k = k,
                                .n = n});
    ops::matmul_backward(g.ctx, {.dinp = DX.get(),
                                 .dweight = DW.get(),
                                 .dbias = DB.get(),
                                 .dout = DY.get(),
                                 .inp = X.get(),
                                 .weight = W.get() + offset,
                                 .rows = rows,
                                 .k = k,
                                 .n = n});
    const double rtol = 64 * kEpsF32;
    check_close(host(Y, g.rt), y, 1e-5, rtol, "matmul out");
    check_close(host(DX, g.rt), dx, 1e-5, rtol, "matmul dinp");
    check_close(host(DW, g.rt), dw, 1e-5, rtol, "matmul dweight (accumulated)");
    check_close(host(DB, g.rt), db, 1e-6, 4 * kEpsF32, "matmul dbias (accumulated)");
  }
}

TEST_CASE("cuda matmul is bitwise reproducible run to run", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t rows = 200, k = 96, n = 80;
  auto X = on_device(randn(static_cast<size_t>(rows * k), 7));
  auto W = on_device(randn(static_cast<size_t>(n * k), 8));
  cuda::DeviceBuffer<float> Y1(static_cast<size_t>(rows * n)), Y2(Y1.size());
  ops::matmul_forward(
      g.ctx, {.out = Y1.get(), .inp = X.get(), .weight = W.get(), .rows = rows, .k = k, .n = n});
  ops::matmul_forward(
      g.ctx, {.out = Y2.get(), .inp = X.get(), .weight = W.get(), .rows = rows, .k = k, .n = n});
  check_bitwise(host(Y2, g.rt), host(Y1, g.rt), "matmul second run");
}

TEST_CASE("cuda layernorm forward/backward match the CPU", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  for (int64_t C : {384, 33}) {
    for (bool residual : {true, false}) {
      INFO("C " << C << " residual " << residual);
      const int64_t rows = 37;
      const size_t n = static_cast<size_t>(rows * C);
      const auto a = randn(n, 10, 2.0f), b = randn(n, 11);
      const auto w = randn(static_cast<size_t>(C), 12), bias = randn(static_cast<size_t>(C), 13);
      const auto dy = randn(n, 14), dy2 = randn(n, 15);
      const auto dw0 = randn(static_cast<size_t>(C), 16), db0 = randn(static_cast<size_t>(C), 17);
      const float* bp = residual ? b.data() : nullptr;

      std::vector<float> out(n), sum(n), mean(static_cast<size_t>(rows)), rstd(mean.size());
      std::vector<float> dx(n), dw = dw0, db = db0;
      ops::layernorm_forward(g.cpu, {.out = out.data(),
                                     .sum = residual ? sum.data() : nullptr,
                                     .mean = mean.data(),
                                     .rstd = rstd.data(),
                                     .a = a.data(),
                                     .b = bp,
                                     .weight = w.data(),
                                     .bias = bias.data(),
                                     .rows = rows,
                                     .C = C,
                                     .eps = 1e-12f});
      const float* inp = residual ? sum.data() : a.data();
      ops::layernorm_backward(g.cpu, {.dinp = dx.data(),
                                      .dweight = dw.data(),
                                      .dbias = db.data(),
                                      .dout = dy.data(),
                                      .dout2 = dy2.data(),
                                      .inp = inp,
                                      .weight = w.data(),
                                      .mean = mean.data(),
                                      .rstd = rstd.data(),
                                      .rows = rows,
                                      .C = C});

      auto A = on_device(a), Bb = on_device(b), Wd = on_device(w), Bi = on_device(bias);
      auto DY = on_device(dy), DY2 = on_device(dy2), DW = on_device(dw0), DB = on_device(db0);
      cuda::DeviceBuffer<float> O(n), S(n), M(mean.size()), R(mean.size()), DX(n);
      ops::layernorm_forward(g.ctx, {.out = O.get(),
                                     .sum = residual ? S.get() : nullptr,
                                     .mean = M.get(),
                                     .rstd = R.get(),
                                     .a = A.get(),
                                     .b = residual ? Bb.get() : nullptr,
                                     .weight = Wd.get(),
                                     .bias = Bi.get(),
                                     .rows = rows,
                                     .C = C,
                                     .eps = 1e-12f});
      ops::layernorm_backward(g.ctx, {.dinp = DX.get(),
                                      .dweight = DW.get(),
                                      .dbias = DB.get(),
                                      .dout = DY.get(),
                                      .dout2 = DY2.get(),
                                      .inp = residual ? S.get() : A.get(),
                                      .weight = Wd.get(),
                                      .mean = M.get(),
                                      .rstd = R.get(),
                                      .rows = rows,
                                      .C = C});
      check_close(host(O, g.rt), out, 1e-5, 16 * kEpsF32, "layernorm out");
      if (residual) check_bitwise(host(S, g.rt), sum, "layernorm residual sum");
      check_close(host(M, g.rt), mean, 1e-6, 4 * kEpsF32, "layernorm mean");
      check_close(host(R, g.rt), rstd, 0.0, 4 * kEpsF32, "layernorm rstd");
      check_close(host(DX, g.rt), dx, 1e-5, 64 * kEpsF32, "layernorm dinp");
      check_close(host(DW, g.rt), dw, 1e-5, 16 * kEpsF32, "layernorm dweight (accumulated)");
      check_close(host(DB, g.rt), db, 1e-5, 16 * kEpsF32, "layernorm dbias (accumulated)");
    }
  }
}

TEST_CASE("cuda gelu forward/backward match the CPU", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const size_t n = 4099;
  const auto x = randn(n, 20, 3.0f), dy = randn(n, 21);
  std::vector<float> y(n), dx(n);
  ops::gelu_forward(g.cpu, {.out = y.data(), .inp = x.data(), .n = static_cast<int64_t>(n)});
  ops::gelu_backward(
      g.cpu, {.dinp = dx.data(), .inp = x.data(), .dout = dy.data(), .n = static_cast<int64_t>(n)});
  auto X = on_device(x), DY = on_device(dy);
  cuda::DeviceBuffer<float> Y(n), DX(n);
  ops::gelu_forward(g.ctx, {.out = Y.get(), .inp = X.get(), .n = static_cast<int64_t>(n)});
  ops::gelu_backward(
      g.ctx, {.dinp = DX.get(), .inp = X.get(), .dout = DY.get(), .n = static_cast<int64_t>(n)});
  check_close(host(Y, g.rt), y, 1e-6, 8 * kEpsF32, "gelu out");
  check_close(host(DX, g.rt), dx, 1e-6, 8 * kEpsF32, "gelu dinp");
  // In place (dinp aliases dout), as the encoder calls it.
  ops::gelu_backward(
      g.ctx, {.dinp = DY.get(), .inp = X.get(), .dout = DY.get(), .n = static_cast<int64_t>(n)});
  check_bitwise(host(DY, g.rt), host(DX, g.rt), "gelu backward in place");
}

TEST_CASE("cuda dropout reproduces the CPU's masks bit for bit", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const size_t n = 4101;  // not a multiple of 4: the last Philox group is partial
  const auto x = randn(n, 30), dy = randn(n, 31), dy2 = randn(n, 32);
  DropoutState st;
  st.seed = 0x123456789abcULL;
  st.step = 7;
  st.training = true;
  st.micro = 3;
  for (float p : {0.1f, 0.5f}) {
    INFO("p " << p);
    const DropoutSpec spec = dropout_spec(st, p, 5, DropoutSite::FfnOutput);
    std::vector<float> y(n), dx(n);
    ops::dropout_forward(
        g.cpu, {.out = y.data(), .inp = x.data(), .n = static_cast<int64_t>(n), .spec = spec});
    ops::dropout_backward(g.cpu, {.dinp = dx.data(),
                                  .dout = dy.data(),
                                  .dout2 = dy2.data(),
                                  .n = static_cast<int64_t>(n),
                                  .spec = spec});
    auto X = on_device(x), DY = on_device(dy), DY2 = on_device(dy2);
    cuda::DeviceBuffer<float> Y(n), DX(n);
    ops::dropout_forward(
        g.ctx, {.out = Y.get(), .inp = X.get(), .n = static_cast<int64_t>(n), .spec = spec});
    ops::dropout_backward(g.ctx, {.dinp = DX.get(),
                                  .dout = DY.get(),
                                  .dout2 = DY2.get(),
                                  .n = static_cast<int64_t>(n),
                                  .spec = spec});
    check_bitwise(host(Y, g.rt), y, "dropout forward");
    check_bitwise(host(DX, g.rt), dx, "dropout backward (dout + dout2)");
    ops::dropout_forward(
        g.ctx,
        {.out = X.get(), .inp = X.get(), .n = static_cast<int64_t>(n), .spec = spec});  // in place
    check_bitwise(host(X, g.rt), y, "dropout forward in place");
  }
  // Inactive spec: a copy, or the sum of the two gradients.
  const DropoutSpec off;
  auto X = on_device(x), DY = on_device(dy), DY2 = on_device(dy2);
  cuda::DeviceBuffer<float> Y(n), DX(n);
  ops::dropout_forward(g.ctx,
                       {.out = Y.get(), .inp = X.get(), .n = static_cast<int64_t>(n), .spec = off});
  ops::dropout_backward(g.ctx, {.dinp = DX.get(),
                                .dout = DY.get(),
                                .dout2 = DY2.get(),
                                .n = static_cast<int64_t>(n),
                                .spec = off});
  std::vector<float> sum(n);
  for (size_t i = 0; i < n; ++i) sum[i] = dy[i] + dy2[i];
  check_bitwise(host(Y, g.rt), x, "inactive dropout copies");
  check_bitwise(host(DX, g.rt), sum, "inactive dropout backward adds");
}

TEST_CASE("cuda embedding forward/backward match the CPU (backward bitwise)", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t C = 40, V = 97, P = 320;
  const std::vector<int64_t> cu = offsets_of({3, 1, 300, 7, 64});
  const int64_t nseq = static_cast<int64_t>(cu.size()) - 1, T = cu.back();
  std::vector<int32_t> ids(static_cast<size_t>(T));
  std::mt19937 gen(40);
  for (auto& id : ids) id = static_cast<int32_t>(gen() % 12);  // many repeats; 0 is the pad id
  ids[5] = 96;
  // RoBERTa positions (pad token 0 at position 0, the others from 1), as nn/encoder computes.
  std::vector<int32_t> pos_ids(ids.size());
  for (size_t s = 0; s + 1 < cu.size(); ++s) {
    int32_t next = 1;
    for (int64_t t = cu[s]; t < cu[s + 1]; ++t) {
      pos_ids[static_cast<size_t>(t)] = ids[static_cast<size_t>(t)] == 0 ? 0 : next++;
    }
  }
  const auto word = randn(static_cast<size_t>(V * C), 41),
             pos = randn(static_cast<size_t>(P * C), 42);
  const auto type = randn(static_cast<size_t>(2 * C), 43),
             dy = randn(static_cast<size_t>(T * C), 44);
  const auto dword0 = randn(word.size(), 45), dpos0 = randn(pos.size(), 46);
  const auto dtype0 = randn(type.size(), 47);

  std::vector<float> out(static_cast<size_t>(T * C));
  std::vector<float> dword = dword0, dpos = dpos0, dtype = dtype0;
  ops::embedding_forward(g.cpu, {.out = out.data(),
                                 .ids = ids.data(),
                                 .pos_ids = pos_ids.data(),
                                 .cu_seqlens = cu.data(),
                                 .nseq = nseq,
                                 .word = word.data(),
                                 .pos = pos.data(),
                                 .type = type.data(),
                                 .C = C});
  ops::embedding_backward(g.cpu, {.dword = dword.data(),
                                  .dpos = dpos.data(),
                                  .dtype = dtype.data(),
                                  .dout = dy.data(),
                                  .ids = ids.data(),
                                  .pos_ids = pos_ids.data(),
                                  .cu_seqlens = cu.data(),
                                  .nseq = nseq,
                                  .C = C,
                                  .pad_id = 0,
                                  .pos_pad = 0});

  auto IDS = on_device(ids), POS = on_device(pos_ids);
  auto CU = on_device(cu);
  auto W = on_device(word), Pp = on_device(pos), Ty = on_device(type), DY = on_device(dy);
  auto DW = on_device(dword0), DP = on_device(dpos0), DT = on_device(dtype0);
  cuda::DeviceBuffer<float> O(out.size());
  ops::embedding_forward(g.ctx, {.out = O.get(),
                                 .ids = IDS.get(),
                                 .pos_ids = POS.get(),
                                 .cu_seqlens = CU.get(),
                                 .nseq = nseq,
                                 .word = W.get(),
                                 .pos = Pp.get(),
                                 .type = Ty.get(),
                                 .C = C});
  ops::embedding_backward(g.ctx, {.dword = DW.get(),
                                  .dpos = DP.get(),
                                  .dtype = DT.get(),
                                  .dout = DY.get(),
                                  .ids = IDS.get(),
                                  .pos_ids = POS.get(),
                                  .cu_seqlens = CU.get(),
                                  .nseq = nseq,
                                  .C = C,
                                  .pad_id = 0,
                                  .pos_pad = 0});
  check_bitwise(host(O, g.rt), out, "embedding out");
  check_bitwise(host(DW, g.rt), dword, "embedding dword (pad row untouched)");
  check_bitwise(host(DP, g.rt), dpos, "embedding dpos (pad position untouched)");
  check_close(host(DT, g.rt), dtype, 1e-6, 4 * kEpsF32, "embedding dtype");
}

TEST_CASE("cuda pooling and L2 normalize match the CPU", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t C = 300;
  const std::vector<int64_t> cu = offsets_of({3, 1, 130, 7});
  const int64_t nseq = static_cast<int64_t>(cu.size()) - 1, T = cu.back();
  const auto x = randn(static_cast<size_t>(T * C), 50),
             dy = randn(static_cast<size_t>(nseq * C), 51);
  auto CU = on_device(cu);
  auto X = on_device(x), DY = on_device(dy);
  std::vector<float> out(static_cast<size_t>(nseq * C)), dx(x.size());
  cuda::DeviceBuffer<float> O(out.size()), DX(x.size());

  ops::mean_pool_forward(
      g.cpu, {.out = out.data(), .inp = x.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
  ops::mean_pool_backward(
      g.cpu, {.dinp = dx.data(), .dout = dy.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
  ops::mean_pool_forward(
      g.ctx, {.out = O.get(), .inp = X.get(), .cu_seqlens = CU.get(), .nseq = nseq, .C = C});
  ops::mean_pool_backward(
      g.ctx, {.dinp = DX.get(), .dout = DY.get(), .cu_seqlens = CU.get(), .nseq = nseq, .C = C});
  check_bitwise(host(O, g.rt), out, "mean pool out");
  check_bitwise(host(DX, g.rt), dx, "mean pool dinp");

  ops::cls_pool_forward(
      g.cpu, {.out = out.data(), .inp = x.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
  ops::cls_pool_backward(
      g.cpu, {.dinp = dx.data(), .dout = dy.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
  ops::cls_pool_forward(
      g.ctx, {.out = O.get(), .inp = X.get(), .cu_seqlens = CU.get(), .nseq = nseq, .C = C});
  ops::cls_pool_backward(
      g.ctx, {.dinp = DX.get(), .dout = DY.get(), .cu_seqlens = CU.get(), .nseq = nseq, .C = C});
  check_bitwise(host(O, g.rt), out, "cls pool out");
  check_bitwise(host(DX, g.rt), dx, "cls pool dinp");

  // L2: row 2 is all zeros (norm clamped to 1e-12), row 3 tiny.
  const int64_t rows = 9;
  auto v = randn(static_cast<size_t>(rows * C), 52);
  for (int64_t j = 0; j < C; ++j) v[static_cast<size_t>(2 * C + j)] = 0.0f;
  for (int64_t j = 0; j < C; ++j) v[static_cast<size_t>(3 * C + j)] *= 1e-20f;
  const auto dn = randn(v.size(), 53);
  std::vector<float> y(v.size()), norm(static_cast<size_t>(rows)), dv(v.size());
  ops::l2norm_forward(
      g.cpu, {.out = y.data(), .norm = norm.data(), .inp = v.data(), .rows = rows, .C = C});
  ops::l2norm_backward(g.cpu, {.dinp = dv.data(),
                               .dout = dn.data(),
                               .out = y.data(),
                               .norm = norm.data(),
                               .rows = rows,
                               .C = C});
  auto Vd = on_device(v), DN = on_device(dn);
  cuda::DeviceBuffer<float> Yd(v.size()), Nd(norm.size()), DVd(v.size());
  ops::l2norm_forward(g.ctx,
                      {.out = Yd.get(), .norm = Nd.get(), .inp = Vd.get(), .rows = rows, .C = C});
  ops::l2norm_backward(g.ctx, {.dinp = DVd.get(),
                               .dout = DN.get(),
                               .out = Yd.get(),
                               .norm = Nd.get(),
                               .rows = rows,
                               .C = C});
  check_close(host(Yd, g.rt), y, 1e-7, 4 * kEpsF32, "l2norm out");
  check_close(host(Nd, g.rt), norm, 0.0, 4 * kEpsF32, "l2norm norm");
  // Gradients of the clamped rows are of order 1e12: the relative term carries them.
  check_close(host(DVd, g.rt), dv, 1e-6, 32 * kEpsF32, "l2norm dinp");
}

}  // namespace sbert::test
