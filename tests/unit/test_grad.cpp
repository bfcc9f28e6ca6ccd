// fp64 central finite differences of every CPU op's backward. Each op f is checked through
// the scalar loss L = <R, f(x)> with a random R: backward(R) must equal dL/dx for every input
// and parameter, to about 1e-9 relative (double precision, h = 1e-5).
#include <catch2/catch.hpp>

#include "cpu/kernels.h"
#include "test_grad_util.h"

using namespace sbert;
using namespace sbert::test;

namespace {
constexpr double kTol = 1e-7;
}  // namespace

TEST_CASE("matmul backward matches finite differences", "[grad]") {
  std::mt19937_64 rng(1);
  const int64_t rows = 5, k = 4, n = 3;
  auto inp = randn(rng, rows * k), w = randn(rng, n * k), b = randn(rng, n);
  const auto R = randn(rng, rows * n);
  auto loss = [&] {
    std::vector<double> out(rows * n);
    cpu::matmul_forward({.out = out.data(),
                         .inp = inp.data(),
                         .weight = w.data(),
                         .bias = b.data(),
                         .rows = rows,
                         .k = k,
                         .n = n});
    return dot(out, R);
  };
  // Parameter gradients accumulate onto what is there; the input gradient is overwritten.
  std::vector<double> dinp(rows * k, 123.0), dw(n * k, 0.5), db(n, -0.25);
  cpu::matmul_backward({.dinp = dinp.data(),
                        .dweight = dw.data(),
                        .dbias = db.data(),
                        .dout = R.data(),
                        .inp = inp.data(),
                        .weight = w.data(),
                        .rows = rows,
                        .k = k,
                        .n = n});
  for (double& v : dw) v -= 0.5;
  for (double& v : db) v += 0.25;
  const double e_inp = rel_err(dinp, numeric_grad(inp, loss));
  const double e_w = rel_err(dw, numeric_grad(w, loss));
  const double e_b = rel_err(db, numeric_grad(b, loss));
  report("matmul d(inp)", e_inp);
  report("matmul d(weight)", e_w);
  report("matmul d(bias)", e_b);
  CHECK(e_inp < kTol);
  CHECK(e_w < kTol);
  CHECK(e_b < kTol);

  // Null gradient pointers are skipped; no bias works too.
  std::vector<double> dw2(n * k, 0.0);
  cpu::matmul_backward({.dweight = dw2.data(),
                        .dout = R.data(),
                        .inp = inp.data(),
                        .weight = w.data(),
                        .rows = rows,
                        .k = k,
                        .n = n});
  CHECK(rel_err(dw2, dw) < 1e-14);
}

TEST_CASE("layernorm backward matches finite differences", "[grad]") {
  std::mt19937_64 rng(2);
  const int64_t rows = 4, C = 7;
  auto a = randn(rng, rows * C, 2.0, 0.5), b = randn(rng, rows * C);
  auto w = randn(rng, C, 0.3, 1.0), bias = randn(rng, C, 0.3);
  const auto R = randn(rng, rows * C), R2 = randn(rng, rows * C);
  const float eps = 1e-5f;

  SECTION("plain") {
    auto loss = [&] {
      std::vector<double> out(rows * C);
      cpu::layernorm_forward({.out = out.data(),
                              .a = a.data(),
                              .weight = w.data(),
                              .bias = bias.data(),
                              .rows = rows,
                              .C = C,
                              .eps = eps});
      return dot(out, R);
    };
    std::vector<double> out(rows * C), mean(rows), rstd(rows);
    cpu::layernorm_forward({.out = out.data(),
                            .mean = mean.data(),
                            .rstd = rstd.data(),
                            .a = a.data(),
                            .weight = w.data(),
                            .bias = bias.data(),
                            .rows = rows,
                            .C = C,
                            .eps = eps});
    std::vector<double> da(rows * C, 7.0), dw(C, 0.0), db(C, 0.0);
    cpu::layernorm_backward({.dinp = da.data(),
                             .dweight = dw.data(),
                             .dbias = db.data(),
                             .dout = R.data(),
                             .inp = a.data(),
                             .weight = w.data(),
                             .mean = mean.data(),
                             .rstd = rstd.data(),
                             .rows = rows,
                             .C = C});
    const double e_a = rel_err(da, numeric_grad(a, loss));
    const double e_w = rel_err(dw, numeric_grad(w, loss));
    const double e_b = rel_err(db, numeric_grad(bias, loss));
    report("layernorm d(inp)", e_a);
    report("layernorm d(weight)", e_w);
    report("layernorm d(bias)", e_b);
    CHECK(e_a < kTol);
    CHECK(e_w < kTol);
    CHECK(e_b < kTol);
  }

  SECTION("with residual, gradient arriving from two consumers") {
    // L = <R, LN(a + b)> + <R2, LN(a + b)>: the output feeds two consumers.
    auto loss = [&] {
      std::vector<double> out(rows * C), sum(rows * C);
      cpu::layernorm_forward({.out = out.data(),
                              .sum = sum.data(),
                              .a = a.data(),
                              .b = b.data(),
                              .weight = w.data(),
                              .bias = bias.data(),
                              .rows = rows,
                              .C = C,
                              .eps = eps});
      return dot(out, R) + dot(out, R2);
    };
    std::vector<double> out(rows * C), sum(rows * C), mean(rows), rstd(rows);
    cpu::layernorm_forward({.out = out.data(),
                            .sum = sum.data(),
                            .mean = mean.data(),
                            .rstd = rstd.data(),
                            .a = a.data(),
                            .b = b.data(),
                            .weight = w.data(),
                            .bias = bias.data(),
                            .rows = rows,
                            .C = C,
                            .eps = eps});
    for (int64_t i = 0; i < rows * C; ++i) CHECK(sum[i] == a[i] + b[i]);
    std::vector<double> dx(rows * C), dw(C, 0.0), db(C, 0.0);
    cpu::layernorm_backward({.dinp = dx.data(),
                             .dweight = dw.data(),
                             .dbias = db.data(),
                             .dout = R.data(),
                             .dout2 = R2.data(),
                             .inp = sum.data(),
                             .weight = w.data(),
                             .mean = mean.data(),
                             .rstd = rstd.data(),
                             .rows = rows,
                             .C = C});
    const double e_a = rel_err(dx, numeric_grad(a, loss));
    const double e_b = rel_err(dx, numeric_grad(b, loss));
    const double e_w = rel_err(dw, numeric_grad(w, loss));
    const double e_bias = rel_err(db, numeric_grad(bias, loss));
    report("layernorm+residual d(a)", e_a);
    report("layernorm+residual d(b)", e_b);
    report("layernorm+residual d(weight)", e_w);
    report("layernorm+residual d(bias)", e_bias);
    CHECK(e_a < kTol);
    CHECK(e_b < kTol);
    CHECK(e_w < kTol);
    CHECK(e_bias < kTol);
  }
}

TEST_CASE("gelu backward matches finite differences", "[grad]") {
  std::mt19937_64 rng(3);
  const int64_t n = 41;
  std::vector<double> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = -5.0 + 0.25 * static_cast<double>(i) + 0.01;
  const auto R = randn(rng, n);
  auto loss = [&] {
    std::vector<double> out(n);
    cpu::gelu_forward({.out = out.data(), .inp = x.data(), .n = n});
    return dot(out, R);
  };
  std::vector<double> dx(n);
  cpu::gelu_backward({.dinp = dx.data(), .inp = x.data(), .dout = R.data(), .n = n});
  const double e = rel_err(dx, numeric_grad(x, loss));
  report("gelu d(inp)", e);
  CHECK(e < kTol);
  // In place (dinp == dout) gives the same.
  std::vector<double> inplace = R;
  cpu::gelu_backward({.dinp = inplace.data(), .inp = x.data(), .dout = inplace.data(), .n = n});
  CHECK(inplace == dx);
  // Forward against the closed form at a few points.
  std::vector<double> pts = {-3.0, -1.0, 0.0, 0.5, 2.0}, out(5);
  cpu::gelu_forward({.out = out.data(), .inp = pts.data(), .n = 5});
  for (size_t i = 0; i < pts.size(); ++i) {
    CHECK(out[i] == Approx(0.5 * pts[i] * std::erfc(-pts[i] / std::sqrt(2.0))).epsilon(1e-14));
  }
}

TEST_CASE("dropout backward matches finite differences with a fixed mask", "[grad]") {
  std::mt19937_64 rng(4);
  const int64_t n = 103;
  auto x = randn(rng, n);
  const auto R = randn(rng, n), R2 = randn(rng, n);
  DropoutState st{.seed = 42, .step = 7, .training = true};
  const DropoutSpec spec = dropout_spec(st, 0.3f, 1, DropoutSite::FfnOutput);
  auto loss = [&] {
    std::vector<double> out(n);
    cpu::dropout_forward({.out = out.data(), .inp = x.data(), .n = n, .spec = spec});
    return dot(out, R) + dot(out, R2);
  };
  std::vector<double> dx(n);
  cpu::dropout_backward(
      {.dinp = dx.data(), .dout = R.data(), .dout2 = R2.data(), .n = n, .spec = spec});
  const double e = rel_err(dx, numeric_grad(x, loss));
  report("dropout d(inp) (p = 0.3, two consumers)", e);
  CHECK(e < kTol);
}

namespace {

// Packed sequences of lengths 3, 1, 5, 2 (a length-1 sequence included), 2 heads of 3.
struct AttnCase {
  std::vector<int64_t> cu = {0, 3, 4, 9, 11};
  int64_t nseq = 4, heads = 2, D = 3;
  int64_t T() const { return cu.back(); }
  int64_t H() const { return heads * D; }
};

void check_attention(const DropoutSpec& spec, const char* label) {
  std::mt19937_64 rng(5);
  AttnCase c;
  const int64_t T = c.T(), H = c.H();
  auto qkv = randn(rng, T * 3 * H, 1.5);
  const auto R = randn(rng, T * H);
  auto loss = [&] {
    std::vector<double> out(T * H);
    cpu::attention_forward({.out = out.data(),
                            .qkv = qkv.data(),
                            .cu_seqlens = c.cu.data(),
                            .nseq = c.nseq,
                            .heads = c.heads,
                            .head_dim = c.D,
                            .dropout = spec});
    return dot(out, R);
  };
  std::vector<double> out(T * H), lse(c.heads * T), dqkv(T * 3 * H, 9.0);
  cpu::attention_forward({.out = out.data(),
                          .lse = lse.data(),
                          .qkv = qkv.data(),
                          .cu_seqlens = c.cu.data(),
                          .nseq = c.nseq,
                          .heads = c.heads,
                          .head_dim = c.D,
                          .dropout = spec});
  cpu::attention_backward({.dqkv = dqkv.data(),
                           .dout = R.data(),
                           .qkv = qkv.data(),
                           .out = out.data(),
                           .lse = lse.data(),
                           .cu_seqlens = c.cu.data(),
                           .nseq = c.nseq,
                           .heads = c.heads,
                           .head_dim = c.D,
                           .dropout = spec});
  const double e = rel_err(dqkv, numeric_grad(qkv, loss));
  report(std::string("attention d(qkv) ") + label, e);
  CHECK(e < kTol);
}

}  // namespace

TEST_CASE("attention backward matches finite differences on packed sequences", "[grad]") {
  check_attention(DropoutSpec{}, "(no dropout)");
  DropoutState st{.seed = 9, .step = 3, .training = true};
  check_attention(dropout_spec(st, 0.25f, 0, DropoutSite::AttentionProbs),
                  "(probability dropout 0.25)");
}

TEST_CASE("attention forward is the softmax of scaled scores per sequence", "[grad]") {
  // Reference: explicit softmax on each (sequence, head), no information across sequences.
  std::mt19937_64 rng(6);
  AttnCase c;
  const int64_t T = c.T(), H = c.H();
  const auto qkv = randn(rng, T * 3 * H);
  std::vector<double> out(T * H), lse(c.heads * T);
  cpu::attention_forward({.out = out.data(),
                          .lse = lse.data(),
                          .qkv = qkv.data(),
                          .cu_seqlens = c.cu.data(),
                          .nseq = c.nseq,
                          .heads = c.heads,
                          .head_dim = c.D});
  for (int64_t s = 0; s < c.nseq; ++s) {
    for (int64_t h = 0; h < c.heads; ++h) {
      for (int64_t i = c.cu[s]; i < c.cu[s + 1]; ++i) {
        std::vector<double> p;
        double z = 0.0;
        for (int64_t j = c.cu[s]; j < c.cu[s + 1]; ++j) {
          double sc = 0.0;
          for (int64_t d = 0; d < c.D; ++d) {
            sc += qkv[i * 3 * H + h * c.D + d] * qkv[j * 3 * H + H + h * c.D + d];
          }
          p.push_back(std::exp(sc / std::sqrt(static_cast<double>(c.D))));
          z += p.back();
        }
        CHECK(lse[h * T + i] == Approx(std::log(z)).epsilon(1e-12));
        for (int64_t d = 0; d < c.D; ++d) {
          double o = 0.0;
          for (int64_t j = c.cu[s]; j < c.cu[s + 1]; ++j) {
            o += p[j - c.cu[s]] / z * qkv[j * 3 * H + 2 * H + h * c.D + d];
          }
          CHECK(out[i * H + h * c.D + d] == Approx(o).epsilon(1e-12).margin(1e-14));
        }
      }
    }
  }
}

TEST_CASE("embedding backward matches finite differences", "[grad]") {
  std::mt19937_64 rng(7);
  const int64_t V = 6, P = 5, C = 4;
  const std::vector<int64_t> cu = {0, 3, 4, 8};
  const std::vector<int32_t> ids = {1, 4, 1, 0, 5, 4, 4, 2};  // repeats within and across
  // RoBERTa-like positions (pad id 4 at position 1, the others from 2), repeated across sequences.
  const std::vector<int32_t> pos_ids = {2, 1, 3, 2, 2, 1, 1, 3};
  const int64_t T = cu.back(), nseq = 3;
  auto word = randn(rng, V * C), pos = randn(rng, P * C), type = randn(rng, 2 * C);
  const auto R = randn(rng, T * C);
  auto loss = [&] {
    std::vector<double> out(T * C);
    cpu::embedding_forward({.out = out.data(),
                            .ids = ids.data(),
                            .pos_ids = pos_ids.data(),
                            .cu_seqlens = cu.data(),
                            .nseq = nseq,
                            .word = word.data(),
                            .pos = pos.data(),
                            .type = type.data(),
                            .C = C});
    return dot(out, R);
  };
  std::vector<double> dword(V * C, 0.0), dpos(P * C, 0.0), dtype(2 * C, 0.0);
  cpu::embedding_backward({.dword = dword.data(),
                           .dpos = dpos.data(),
                           .dtype = dtype.data(),
                           .dout = R.data(),
                           .ids = ids.data(),
                           .pos_ids = pos_ids.data(),
                           .cu_seqlens = cu.data(),
                           .nseq = nseq,
                           .C = C,
                           .pad_id = -1,
                           .pos_pad = -1});
  const double e_w = rel_err(dword, numeric_grad(word, loss));
  const double e_p = rel_err(dpos, numeric_grad(pos, loss));
  const double e_t = rel_err(dtype, numeric_grad(type, loss));
  report("embedding d(word)", e_w);
  report("embedding d(position)", e_p);
  report("embedding d(token type)", e_t);
  CHECK(e_w < kTol);
  CHECK(e_p < kTol);
  CHECK(e_t < kTol);
  for (int64_t j = 0; j < C; ++j) CHECK(dword[3 * C + j] == 0.0);  // id 3 is not in the batch

  for (int64_t j = 0; j < C; ++j) CHECK(dpos[0 * C + j] == 0.0);  // position 0 is not used

  // With a padding id (nn.Embedding(padding_idx)): that row gets nothing, the rest is the same;
  // and the same for a padding position (RoBERTa's position table).
  std::vector<double> dword_pad(V * C, 0.0), dpos_pad(P * C, 0.0), dtype_pad(2 * C, 0.0);
  cpu::embedding_backward({.dword = dword_pad.data(),
                           .dpos = dpos_pad.data(),
                           .dtype = dtype_pad.data(),
                           .dout = R.data(),
                           .ids = ids.data(),
                           .pos_ids = pos_ids.data(),
                           .cu_seqlens = cu.data(),
                           .nseq = nseq,
                           .C = C,
                           .pad_id = 4,
                           .pos_pad = 1});
  for (int64_t i = 0; i < V * C; ++i) CHECK(dword_pad[i] == (i / C == 4 ? 0.0 : dword[i]));
  for (int64_t i = 0; i < P * C; ++i) CHECK(dpos_pad[i] == (i / C == 1 ? 0.0 : dpos[i]));
  CHECK(dtype_pad == dtype);
}

TEST_CASE("pooling and L2 normalization backward match finite differences", "[grad]") {
  std::mt19937_64 rng(8);
  const std::vector<int64_t> cu = {0, 3, 4, 9};
  const int64_t nseq = 3, T = cu.back(), C = 5;
  auto x = randn(rng, T * C);
  const auto R = randn(rng, nseq * C);

  SECTION("mean") {
    auto loss = [&] {
      std::vector<double> out(nseq * C);
      cpu::mean_pool_forward(
          {.out = out.data(), .inp = x.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
      return dot(out, R);
    };
    std::vector<double> dx(T * C, 5.0);
    cpu::mean_pool_backward(
        {.dinp = dx.data(), .dout = R.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
    const double e = rel_err(dx, numeric_grad(x, loss));
    report("mean pooling d(inp)", e);
    CHECK(e < kTol);
  }
  SECTION("cls") {
    auto loss = [&] {
      std::vector<double> out(nseq * C);
      cpu::cls_pool_forward(
          {.out = out.data(), .inp = x.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
      return dot(out, R);
    };
    std::vector<double> dx(T * C, 5.0);
    cpu::cls_pool_backward(
        {.dinp = dx.data(), .dout = R.data(), .cu_seqlens = cu.data(), .nseq = nseq, .C = C});
    const double e = rel_err(dx, numeric_grad(x, loss));
    report("cls pooling d(inp)", e);
    CHECK(e < kTol);
  }
  SECTION("l2 normalize") {
    const int64_t rows = 4;
    auto y = randn(rng, rows * C);
    for (int64_t j = 0; j < C; ++j) y[3 * C + j] *= 1e-3;  // a short row
    const auto Ry = randn(rng, rows * C);
    auto loss = [&] {
      std::vector<double> out(rows * C);
      cpu::l2norm_forward({.out = out.data(), .inp = y.data(), .rows = rows, .C = C});
      return dot(out, Ry);
    };
    std::vector<double> out(rows * C), norm(rows), dy(rows * C);
    cpu::l2norm_forward(
        {.out = out.data(), .norm = norm.data(), .inp = y.data(), .rows = rows, .C = C});
    cpu::l2norm_backward({.dinp = dy.data(),
                          .dout = Ry.data(),
                          .out = out.data(),
                          .norm = norm.data(),
                          .rows = rows,
                          .C = C});
    const double e = rel_err(dy, numeric_grad(y, loss, 1e-7));
    report("l2 normalize d(inp)", e);
    CHECK(e < kTol);
    for (int64_t r = 0; r < rows; ++r) {
      double n2 = 0.0;
      for (int64_t j = 0; j < C; ++j) n2 += out[r * C + j] * out[r * C + j];
      CHECK(n2 == Approx(1.0).epsilon(1e-14));
    }
  }
}

TEST_CASE("float and double kernels agree to float rounding", "[grad]") {
  // The fp32 instantiation is the same code; a quick check that it is wired the same.
  std::mt19937_64 rng(10);
  const int64_t rows = 6, C = 16;
  const auto a = randn(rng, rows * C), w = randn(rng, C, 0.2, 1.0), b = randn(rng, C, 0.2);
  const auto R = randn(rng, rows * C);
  std::vector<double> out(rows * C), mean(rows), rstd(rows), dx(rows * C), dw(C), db(C);
  cpu::layernorm_forward({.out = out.data(),
                          .mean = mean.data(),
                          .rstd = rstd.data(),
                          .a = a.data(),
                          .weight = w.data(),
                          .bias = b.data(),
                          .rows = rows,
                          .C = C,
                          .eps = 1e-12f});
  cpu::layernorm_backward({.dinp = dx.data(),
                           .dweight = dw.data(),
                           .dbias = db.data(),
                           .dout = R.data(),
                           .inp = a.data(),
                           .weight = w.data(),
                           .mean = mean.data(),
                           .rstd = rstd.data(),
                           .rows = rows,
                           .C = C});
  auto f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const auto af = f(a), wf = f(w), bf = f(b), Rf = f(R);
  std::vector<float> outf(rows * C), meanf(rows), rstdf(rows), dxf(rows * C), dwf(C), dbf(C);
  cpu::layernorm_forward({.out = outf.data(),
                          .mean = meanf.data(),
                          .rstd = rstdf.data(),
                          .a = af.data(),
                          .weight = wf.data(),
                          .bias = bf.data(),
                          .rows = rows,
                          .C = C,
                          .eps = 1e-12f});
  cpu::layernorm_backward({.dinp = dxf.data(),
                           .dweight = dwf.data(),
                           .dbias = dbf.data(),
                           .dout = Rf.data(),
                           .inp = af.data(),
                           .weight = wf.data(),
                           .mean = meanf.data(),
                           .rstd = rstdf.data(),
                           .rows = rows,
                           .C = C});
  auto d = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  CHECK(rel_err(d(outf), out) < 1e-6);
  CHECK(rel_err(d(dxf), dx) < 1e-5);
  CHECK(rel_err(d(dwf), dw) < 1e-6);
}
