// [cuda] bf16 activations (nn/encoder.h ActivationPrecision, args.h's inp16 / keep16 / qkv16 /
// out16): in bf16-mixed the encoder keeps its GEMM and attention inputs in bf16 only. The ops
// reading a kept bf16 operand give the bits they give when they round the fp32 tensor
// themselves, and keep exactly that rounding; the paths without bf16 kernels refuse the fields;
// the encoder's activations shrink by the documented bytes, its planned memory holds a whole
// forward and backward, and its gradients stay within bf16's error of the fp32 encoder's.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/context.h"
#include "cpu/convert.h"
#include "cuda/runtime.h"
#include "cuda_test_util.h"
#include "nn/encoder.h"
#include "ops/ops.h"
#ifdef SBERT_SIMT_EMU
#include <cuda_runtime.h>  // simt_device_malloc_count
#endif

namespace sbert::test {

namespace {

struct Gpu {
  cuda::Runtime rt;
  Context ctx{Device::CUDA, 0, &rt, true};
};

std::vector<uint16_t> bf16_of(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  cpu::to_bf16(h.data(), x.data(), static_cast<int64_t>(x.size()));
  return h;
}

std::vector<float> fetch(cuda::Runtime& rt, const cuda::DeviceBuffer<float>& d) {
  rt.synchronize();
  return d.to_host();
}

std::vector<uint16_t> fetch16(cuda::Runtime& rt, const cuda::DeviceBuffer<uint16_t>& d) {
  rt.synchronize();
  return d.to_host();
}

}  // namespace

TEST_CASE("cuda bf16 activations: ops on kept bf16 operands give the same bits", "[cuda]") {
  if (!have_gpu()) return;
  Gpu g;
  const int64_t rows = 21, H = 64, I = 128, heads = 2, D = 32;
  const auto n = [](int64_t count) { return static_cast<size_t>(count); };
  const auto x = randn(n(rows * H), 1), w = randn(n(I * H), 2), b = randn(n(I), 3),
             dy = randn(n(rows * I), 4), w2 = randn(n(H * I), 5), dy2 = randn(n(rows * H), 6);
  auto X = on_device(x), W = on_device(w), B = on_device(b), DY = on_device(dy), W2 = on_device(w2),
       DY2 = on_device(dy2);

  SECTION("matmul forward keeps its rounding of inp; the backward reads it") {
    cuda::DeviceBuffer<float> out(static_cast<size_t>(rows * I)), out_k(out.size());
    cuda::DeviceBuffer<uint16_t> kept(x.size());
    ops::matmul_forward(g.ctx, {.out = out.get(),
                                .inp = X.get(),
                                .weight = W.get(),
                                .bias = B.get(),
                                .rows = rows,
                                .k = H,
                                .n = I});
    ops::matmul_forward(g.ctx, {.out = out_k.get(),
                                .inp = X.get(),
                                .weight = W.get(),
                                .bias = B.get(),
                                .rows = rows,
                                .k = H,
                                .n = I,
                                .keep16 = kept.get()});
    check_bitwise(fetch(g.rt, out_k), fetch(g.rt, out), "forward keeping its cast");
    CHECK(fetch16(g.rt, kept) == bf16_of(x));
    // The forward from the kept bf16 input alone (inp null).
    ops::matmul_forward(g.ctx, {.out = out_k.get(),
                                .weight = W.get(),
                                .bias = B.get(),
                                .rows = rows,
                                .k = H,
                                .n = I,
                                .inp16 = kept.get()});
    check_bitwise(fetch(g.rt, out_k), fetch(g.rt, out), "forward from inp16");

    const auto backward = [&](bool from_kept) {
      cuda::DeviceBuffer<float> dx(x.size()), grads(static_cast<size_t>(I * H + I));
      grads.zero();
      ops::matmul_backward(g.ctx, {.dinp = dx.get(),
                                   .dweight = grads.get(),
                                   .dbias = grads.get() + I * H,
                                   .dout = DY.get(),
                                   .inp = from_kept ? nullptr : X.get(),
                                   .weight = W.get(),
                                   .rows = rows,
                                   .k = H,
                                   .n = I,
                                   .inp16 = from_kept ? kept.get() : nullptr});
      std::vector<float> all = fetch(g.rt, dx), gr = grads.to_host();
      all.insert(all.end(), gr.begin(), gr.end());
      return all;
    };
    check_bitwise(backward(true), backward(false), "backward from inp16");
  }

  SECTION("the FFN's fused GELU GEMMs: keep16 forward, act16 backward") {
    cuda::DeviceBuffer<float> act(static_cast<size_t>(rows * I)), pre(act.size()),
        act_k(act.size()), pre_k(act.size());
    cuda::DeviceBuffer<uint16_t> h1_16(x.size()), act16(act.size());
    ops::matmul_gelu_forward(g.ctx, {.out = act.get(),
                                     .pre = pre.get(),
                                     .inp = X.get(),
                                     .weight = W.get(),
                                     .bias = B.get(),
                                     .rows = rows,
                                     .k = H,
                                     .n = I});
    ops::matmul_gelu_forward(g.ctx, {.out = act_k.get(),
                                     .pre = pre_k.get(),
                                     .inp = X.get(),
                                     .weight = W.get(),
                                     .bias = B.get(),
                                     .rows = rows,
                                     .k = H,
                                     .n = I,
                                     .keep16 = h1_16.get()});
    check_bitwise(fetch(g.rt, act_k), fetch(g.rt, act), "GELU GEMM keeping its cast (act)");
    check_bitwise(fetch(g.rt, pre_k), fetch(g.rt, pre), "GELU GEMM keeping its cast (pre)");
    CHECK(fetch16(g.rt, h1_16) == bf16_of(x));
    // The next GEMM keeps the rounding of act, as the encoder's FFN output projection does.
    cuda::DeviceBuffer<float> y(static_cast<size_t>(rows * H));
    ops::matmul_forward(g.ctx, {.out = y.get(),
                                .inp = act.get(),
                                .weight = W2.get(),
                                .rows = rows,
                                .k = I,
                                .n = H,
                                .keep16 = act16.get()});
    CHECK(fetch16(g.rt, act16) == bf16_of(fetch(g.rt, act)));

    const auto backward = [&](bool from_kept) {
      cuda::DeviceBuffer<float> dpre(act.size()), grads(static_cast<size_t>(H * I + H + I));
      grads.zero();
      ops::gelu_matmul_backward(g.ctx, {.dpre = dpre.get(),
                                        .dpre_sum = grads.get() + H * I + H,
                                        .dweight = grads.get(),
                                        .dbias = grads.get() + H * I,
                                        .dout = DY2.get(),
                                        .act = from_kept ? nullptr : act.get(),
                                        .pre = pre.get(),
                                        .weight = W2.get(),
                                        .rows = rows,
                                        .k = I,
                                        .n = H,
                                        .act16 = from_kept ? act16.get() : nullptr});
      std::vector<float> all = fetch(g.rt, dpre), gr = grads.to_host();
      all.insert(all.end(), gr.begin(), gr.end());
      return all;
    };
    check_bitwise(backward(true), backward(false), "GELU GEMM backward from act16");
  }

  SECTION("bf16 attention keeps qkv and its output in bf16; the backward reads them") {
    const std::vector<int64_t> cu = offsets_of({9, 1, 11});
    const int64_t T = cu.back();
    REQUIRE(T == rows);
    const auto qkv = randn(static_cast<size_t>(T * 3 * H), 7),
               dout = randn(static_cast<size_t>(T * H), 8);
    auto QKV = on_device(qkv), DOUT = on_device(dout);
    auto CU = on_device(cu);
    const BatchDims dims{T, 11};
    const DropoutSpec drop{0.25f, 1234, 5678};
    cuda::DeviceBuffer<float> out(static_cast<size_t>(T * H)), lse(static_cast<size_t>(heads * T)),
        lse_k(lse.size());
    cuda::DeviceBuffer<uint16_t> qkv16(qkv.size()), out16(out.size());
    ops::attention_forward(g.ctx, {.out = out.get(),
                                   .lse = lse.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = 3,
                                   .heads = heads,
                                   .head_dim = D,
                                   .dropout = drop,
                                   .dims = dims});
    ops::attention_forward(g.ctx, {.lse = lse_k.get(),
                                   .qkv = QKV.get(),
                                   .cu_seqlens = CU.get(),
                                   .nseq = 3,
                                   .heads = heads,
                                   .head_dim = D,
                                   .dropout = drop,
                                   .dims = dims,
                                   .keep_qkv16 = qkv16.get(),
                                   .out16 = out16.get()});
    check_bitwise(fetch(g.rt, lse_k), fetch(g.rt, lse), "lse");
    CHECK(fetch16(g.rt, qkv16) == bf16_of(qkv));
    // The fp32 output is the bf16 one widened: rounding it again gives the kept bits.
    CHECK(fetch16(g.rt, out16) == bf16_of(fetch(g.rt, out)));

    const auto backward = [&](bool from_kept) {
      cuda::DeviceBuffer<float> dqkv(qkv.size());
      ops::attention_backward(g.ctx, {.dqkv = dqkv.get(),
                                      .dout = DOUT.get(),
                                      .qkv = from_kept ? nullptr : QKV.get(),
                                      .out = from_kept ? nullptr : out.get(),
                                      .lse = lse.get(),
                                      .cu_seqlens = CU.get(),
                                      .nseq = 3,
                                      .heads = heads,
                                      .head_dim = D,
                                      .dropout = drop,
                                      .dims = dims,
                                      .qkv16 = from_kept ? qkv16.get() : nullptr,
                                      .out16 = from_kept ? out16.get() : nullptr});
      return fetch(g.rt, dqkv);
    };
    check_bitwise(backward(true), backward(false), "attention backward from qkv16 / out16");
  }
}

TEST_CASE("cuda bf16 activations: paths without bf16 kernels refuse the bf16 fields", "[cuda]") {
  if (!have_gpu()) return;
  cuda::Runtime rt;
  const Context cpu{Device::CPU, 1, nullptr};
  const Context fp32{Device::CUDA, 0, &rt};
  const Context bf16{Device::CUDA, 0, &rt, true};
  CHECK_FALSE(ops::bf16_activations(cpu));
  CHECK_FALSE(ops::bf16_activations(fp32));
  CHECK(ops::bf16_activations(bf16));
  CHECK(ops::bf16_attention_io(bf16, 32));
  CHECK_FALSE(ops::bf16_attention_io(bf16, 8));  // no bf16 kernel: the fp32 attention runs
  CHECK_FALSE(ops::bf16_attention_io(fp32, 32));

  std::vector<float> y(4), x(4), wt(4);
  std::vector<uint16_t> x16(4);
  const std::string why = "bf16 activation operands were passed to a path without bf16 kernels";
  CHECK_THROWS_WITH(ops::matmul_forward(cpu, {.out = y.data(),
                                              .weight = wt.data(),
                                              .rows = 2,
                                              .k = 2,
                                              .n = 2,
                                              .inp16 = x16.data()}),
                    Catch::Contains(why) && Catch::Contains("[matmul_forward]"));
  CHECK_THROWS_WITH(ops::matmul_backward(cpu, {.dinp = y.data(),
                                               .dout = x.data(),
                                               .weight = wt.data(),
                                               .rows = 2,
                                               .k = 2,
                                               .n = 2,
                                               .inp16 = x16.data()}),
                    Catch::Contains(why) && Catch::Contains("[matmul_backward]"));
  // On the GPU in fp32 and with a head dim that has no bf16 attention kernel.
  auto Y = on_device(y), X = on_device(x), Wt = on_device(wt);
  cuda::DeviceBuffer<uint16_t> K(4);
  CHECK_THROWS_WITH(ops::matmul_gelu_forward(fp32, {.out = Y.get(),
                                                    .inp = X.get(),
                                                    .weight = Wt.get(),
                                                    .rows = 2,
                                                    .k = 2,
                                                    .n = 2,
                                                    .keep16 = K.get()}),
                    Catch::Contains(why) && Catch::Contains("[matmul_gelu_forward]"));
  const std::vector<int64_t> cu = {0, 2};
  auto CU = on_device(cu);
  cuda::DeviceBuffer<float> qkv(2 * 3 * 8), out(2 * 8), lse(2);
  qkv.zero();
  CHECK_THROWS_WITH(ops::attention_forward(bf16, {.out = out.get(),
                                                  .lse = lse.get(),
                                                  .qkv = qkv.get(),
                                                  .cu_seqlens = CU.get(),
                                                  .nseq = 1,
                                                  .heads = 1,
                                                  .head_dim = 8,
                                                  .dims = {2, 2},
                                                  .out16 = K.get()}),
                    Catch::Contains(why) && Catch::Contains("[attention_forward]"));
}

namespace {

// A random BERT with head dim 32 (the bf16 attention kernels' smallest), 2 layers.
ModelConfig small_config() {
  ModelConfig cfg;
  cfg.vocab_size = 50;
  cfg.hidden_size = 64;
  cfg.num_layers = 2;
  cfg.num_heads = 2;
  cfg.intermediate_size = 128;
  cfg.max_position_embeddings = 32;
  cfg.type_vocab_size = 2;
  cfg.hidden_dropout = 0.1f;
  cfg.attention_dropout = 0.1f;
  return cfg;
}

std::vector<float> random_block(const ParamLayout& layout) {
  auto w = randn(static_cast<size_t>(layout.total), 11, 0.05f);
  for (const ParamSpec& s : layout.specs) {
    if (s.name.find("LayerNorm.weight") == std::string::npos) continue;
    for (int64_t i = 0; i < s.numel; ++i) w[static_cast<size_t>(s.offset + i)] += 1.0f;
  }
  return w;
}

}  // namespace

TEST_CASE("cuda bf16 activations: the encoder's buffers shrink by (6H + I) x 2 bytes a token and "
          "layer",
          "[cuda]") {
  // all-MiniLM-L6-v2's and BERT-large's shapes: the saving is the same share of the activations.
  struct Shape {
    int64_t H, I;
    int L, heads;
  };
  for (const Shape& shape : {Shape{384, 1536, 6, 12}, Shape{1024, 4096, 24, 16}}) {
    const int64_t H = shape.H, I = shape.I, L = shape.L;  // (clang 14 cannot capture bindings)
    ModelConfig cfg;
    cfg.hidden_size = H, cfg.intermediate_size = I, cfg.num_layers = shape.L,
    cfg.num_heads = shape.heads;
    const int64_t T = 4096, nseq = 64;
    const size_t f32 = encoder_reserve_bytes<float>(cfg, T, nseq, true, true);
    const size_t gemm = encoder_reserve_bytes<float>(cfg, T, nseq, true, true, {true, false});
    const size_t both = encoder_reserve_bytes<float>(cfg, T, nseq, true, true, {true, true});
    // Per layer: the fp32 inputs of the GEMMs and attention dropped, their bf16 kept: (T, 6H + I)
    // (qkv, att, h1, ffn_act, out) with bf16 attention, (T, 2H + I) (h1, ffn_act, out)
    // without. Once: the shared fp32 set of the layer running, without att: (T, 5H + I), or
    // (T, 2H + I).
    const auto saving = [&](int64_t width, int64_t shared) {
      return static_cast<size_t>(T) *
             static_cast<size_t>(L * width * 2 - shared * static_cast<int64_t>(sizeof(float)));
    };
    CHECK(f32 - both == saving(6 * H + I, 5 * H + I));
    CHECK(f32 - gemm == saving(2 * H + I, 2 * H + I));
    const double share = 1.0 - static_cast<double>(both) / static_cast<double>(f32);
    // (MiniLM 18.9%, BERT-large 27.8% of every encoder buffer, the backward's work buffers
    // included)
    INFO("H " << H << ": bf16 activations save " << share * 100 << "% of the encoder's buffers");
    CHECK(share > 0.18);
  }
}

TEST_CASE("cuda bf16 activations: a planned forward and backward allocates nothing and tracks fp32",
          "[cuda]") {
  if (!have_gpu()) return;
  const ModelConfig cfg = small_config();
  const ParamLayout layout = make_bert_layout(cfg);
  const std::vector<float> block = random_block(layout);
  const PackedBatch batch = pack_sequences({{1, 5, 9, 13, 2}, {1, 7, 2}, {1, 3, 4, 5, 6, 7, 8, 2},
                                            {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 2}},
                                           0, 4);
  const int64_t T = batch.tokens(), H = cfg.hidden_size;
  const auto dh = randn(static_cast<size_t>(T * H), 12);
  const DropoutState drop{77, 3, true};

  // The fp32 reference on the CPU.
  const Context cpu{Device::CPU, 2, nullptr};
  std::vector<float> wc = block, gc(block.size(), 0.0f);
  EncoderCache cc;
  cc.keep_all = true;
  encoder_forward(cpu, cfg, bind_bert(cfg, layout, wc.data()), batch, cc, drop);
  std::vector<float> hc(cc.output, cc.output + T * H);
  encoder_backward(cpu, cfg, bind_bert(cfg, layout, wc.data()), batch, cc, drop, dh.data(),
                   bind_bert(cfg, layout, gc.data()));

  Gpu g;
  auto W = on_device(block), DH = on_device(dh);
  cuda::DeviceBuffer<float> G(block.size());
  G.zero();
  ops::bind_weight_copy(g.ctx, W.get(), layout.total);
  ops::refresh_weight_copy(g.ctx);
  EncoderCache cache;
  cache.keep_all = true;
  encoder_reserve(g.ctx, cfg, T, batch.nseq(), true, cache);
  CHECK(cache.acts == ActivationPrecision{true, true});
  g.rt.synchronize();
  const size_t in_use = cuda::device_memory_in_use();
#ifdef SBERT_SIMT_EMU
  const size_t mallocs = simt_device_malloc_count();
#endif
  encoder_forward(g.ctx, cfg, bind_bert(cfg, layout, W.get()), batch, cache, drop);
  g.rt.synchronize();
  std::vector<float> hg(static_cast<size_t>(T * H));
  cuda::copy_to_host(hg.data(), cache.output, hg.size() * sizeof(float));
  encoder_backward(g.ctx, cfg, bind_bert(cfg, layout, W.get()), batch, cache, drop, DH.get(),
                   bind_bert(cfg, layout, G.get()));
  const std::vector<float> gg = fetch(g.rt, G);
  CHECK(cuda::device_memory_in_use() == in_use);
#ifdef SBERT_SIMT_EMU
  CHECK(simt_device_malloc_count() == mallocs);
#endif
  // Every layer kept its GEMM and attention inputs in bf16 only.
  for (const LayerCache& c : cache.layers) {
    CHECK(c.qkv.size() == 0);
    CHECK(c.att.size() == 0);
    CHECK(c.h1.size() == 0);
    CHECK(c.ffn_act.size() == 0);
    CHECK(c.out.size() == 0);
    CHECK(c.qkv16.size() == static_cast<size_t>(T * 3 * H));
    CHECK(c.act16.size() == static_cast<size_t>(T * cfg.intermediate_size));
  }
  // bf16's error against the fp32 encoder: hidden states and gradients by relative norm.
  const auto rel = [](const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      num += d * d;
      den += static_cast<double>(b[i]) * static_cast<double>(b[i]);
    }
    return std::sqrt(num / den);
  };
  INFO("relative error: hidden " << rel(hg, hc) << ", gradients " << rel(gg, gc));
  CHECK(rel(hg, hc) < 0.01);
  CHECK(rel(gg, gc) < 0.02);

  // A backward on a Context whose ops keep fp32 activations is refused.
  const Context fp32{Device::CUDA, 0, &g.rt};
  CHECK_THROWS_WITH(encoder_backward(fp32, cfg, bind_bert(cfg, layout, W.get()), batch, cache, drop,
                                     DH.get(), bind_bert(cfg, layout, G.get())),
                    Catch::Contains("another precision"));
  ops::bind_weight_copy(g.ctx, nullptr, 0);
}

}  // namespace sbert::test
