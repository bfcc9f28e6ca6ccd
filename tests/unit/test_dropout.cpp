// Dropout with the counter-based Philox RNG: known answers, reproducibility for the same
// (seed, step), fresh masks across steps / layers / sites / micro-batches, keep rate, and
// forward/backward consistency (backward regenerates the forward's mask).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "cpu/kernels.h"
#include "nn/encoder.h"

using namespace sbert;

TEST_CASE("Philox4x32-10 reproduces the Random123 known-answer vectors", "[dropout]") {
  // Random123 kat_vectors: counter (4 words), key (2 words) -> output (4 words).
  CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
        Philox4x32Ctr{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                      {0xffffffffu, 0xffffffffu}) ==
        Philox4x32Ctr{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                      {0xa4093822u, 0x299f31d0u}) ==
        Philox4x32Ctr{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
  static_assert(philox4x32_10({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u, "usable at compile time");
}

namespace {
std::vector<float> mask_of(const DropoutSpec& spec, int64_t n) {
  std::vector<float> ones(static_cast<size_t>(n), 1.0f), out(static_cast<size_t>(n));
  cpu::dropout_forward({.out = out.data(), .inp = ones.data(), .n = n, .spec = spec});
  return out;
}
}  // namespace

TEST_CASE("dropout masks are a pure function of (seed, step, micro, layer, site, index)",
          "[dropout]") {
  const int64_t n = 1 << 20;
  const float p = 0.1f;
  const DropoutState st{.seed = 1234, .step = 10, .training = true};
  const auto a = mask_of(dropout_spec(st, p, 2, DropoutSite::FfnOutput), n);

  SECTION("same state: same mask, elementwise equal to keep()") {
    const auto b = mask_of(dropout_spec(st, p, 2, DropoutSite::FfnOutput), n);
    CHECK(a == b);
    const DropoutSpec spec = dropout_spec(st, p, 2, DropoutSite::FfnOutput);
    for (int64_t e :
         {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}, int64_t{77}, int64_t{1000}, n - 1}) {
      CHECK((a[static_cast<size_t>(e)] != 0.0f) == spec.keep(static_cast<uint64_t>(e)));
    }
  }
  SECTION("keep rate ~ 1 - p and kept values scaled by 1 / (1 - p)") {
    int64_t kept = 0;
    for (float v : a) {
      if (v != 0.0f) {
        ++kept;
        CHECK(v == 1.0f / (1.0f - p));
      }
    }
    const double rate = static_cast<double>(kept) / static_cast<double>(n);
    CHECK(std::abs(rate - 0.9) < 5 * std::sqrt(0.09 / static_cast<double>(n)));
  }
  SECTION("different step, seed, layer, site or micro-batch: different mask") {
    auto differ = [&](const DropoutState& s2, int layer, DropoutSite site) {
      const auto b = mask_of(dropout_spec(s2, p, layer, site), n);
      int64_t same = 0;
      for (size_t i = 0; i < a.size(); ++i) same += (a[i] != 0.0f) == (b[i] != 0.0f);
      // Independent masks agree on p^2 + (1-p)^2 = 82% of the elements.
      return std::abs(static_cast<double>(same) / static_cast<double>(n) - 0.82) < 0.005;
    };
    DropoutState s = st;
    s.step = 11;
    CHECK(differ(s, 2, DropoutSite::FfnOutput));
    s = st;
    s.seed = 1235;
    CHECK(differ(s, 2, DropoutSite::FfnOutput));
    s = st;
    s.micro = 1;
    CHECK(differ(s, 2, DropoutSite::FfnOutput));
    CHECK(differ(st, 3, DropoutSite::FfnOutput));
    CHECK(differ(st, 2, DropoutSite::AttentionOutput));
  }
  SECTION("eval or p = 0: identity") {
    DropoutState eval = st;
    eval.training = false;
    CHECK_FALSE(dropout_spec(eval, p, 2, DropoutSite::FfnOutput).active());
    CHECK_FALSE(dropout_spec(st, 0.0f, 2, DropoutSite::FfnOutput).active());
    const auto id = mask_of(dropout_spec(eval, p, 2, DropoutSite::FfnOutput), 100);
    CHECK(id == std::vector<float>(100, 1.0f));
  }
  SECTION("bad arguments throw") {
    CHECK_THROWS_WITH(dropout_spec(st, 1.0f, 0, DropoutSite::Embeddings),
                      Catch::Contains("[dropout]"));
    CHECK_THROWS(dropout_spec(st, -0.1f, 0, DropoutSite::Embeddings));
    DropoutState big = st;
    big.micro = 1u << 16;
    CHECK_THROWS(dropout_spec(big, 0.1f, 0, DropoutSite::Embeddings));
  }
}

TEST_CASE("dropout factors do not depend on how a range is split", "[dropout]") {
  const DropoutSpec spec = dropout_spec(DropoutState{.seed = 7, .step = 1, .training = true}, 0.5f,
                                        0, DropoutSite::AttentionProbs);
  std::vector<double> whole(37), parts(37);
  dropout_factors(whole.data(), spec, 5, 37);
  dropout_factors(parts.data(), spec, 5, 3);  // unaligned pieces
  dropout_factors(parts.data() + 3, spec, 8, 13);
  dropout_factors(parts.data() + 16, spec, 21, 21);
  CHECK(whole == parts);
}

TEST_CASE("float dropout factors are the scalar Philox mask on every vector path", "[dropout]") {
  // Long ranges take the 32-element AVX2 path (where the CPU has it), then 16-element SSE2
  // runs, then single elements; every start offset mod 4 and every tail length mod 32.
  const DropoutSpec spec =
      dropout_spec(DropoutState{.seed = 0x1234abcd5678ull, .step = 9, .training = true}, 0.25f, 3,
                   DropoutSite::FfnOutput);
  const float scale = 1.0f / (1.0f - 0.25f);
  for (uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{6}, uint64_t{(1ull << 34) - 37}}) {
    for (int64_t n : {int64_t{31}, int64_t{32}, int64_t{47}, int64_t{1000}, int64_t{1003}}) {
      std::vector<float> f(static_cast<size_t>(n));
      dropout_factors(f.data(), spec, first, n);
      for (int64_t i = 0; i < n; ++i) {
        INFO("first " << first << " n " << n << " i " << i);
        REQUIRE(f[static_cast<size_t>(i)] ==
                (spec.keep(first + static_cast<uint64_t>(i)) ? scale : 0.0f));
      }
    }
  }
}

TEST_CASE("dropout backward applies the forward's mask", "[dropout]") {
  const int64_t n = 5000;
  const DropoutSpec spec = dropout_spec(DropoutState{.seed = 99, .step = 4, .training = true}, 0.3f,
                                        1, DropoutSite::AttentionOutput);
  std::vector<float> x(n), y(n), g(n), g2(n), dx(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::sin(static_cast<float>(i));
    g[i] = std::cos(static_cast<float>(i));
    g2[i] = 0.5f;
  }
  cpu::dropout_forward({.out = y.data(), .inp = x.data(), .n = n, .spec = spec});
  cpu::dropout_backward(
      {.dinp = dx.data(), .dout = g.data(), .dout2 = g2.data(), .n = n, .spec = spec});
  for (int64_t i = 0; i < n; ++i) {
    const bool kept = spec.keep(static_cast<uint64_t>(i));
    REQUIRE((y[i] == 0.0f) == (!kept || x[i] == 0.0f));
    REQUIRE(dx[i] == (kept ? (g[i] + g2[i]) * (1.0f / (1.0f - 0.3f)) : 0.0f));
  }
  // In place forward gives the same.
  std::vector<float> z = x;
  cpu::dropout_forward({.out = z.data(), .inp = z.data(), .n = n, .spec = spec});
  CHECK(z == y);
}

TEST_CASE("encoder dropout: same state replays, another step differs, eval is dropout-free",
          "[dropout]") {
  ModelConfig cfg;
  cfg.vocab_size = 20;
  cfg.hidden_size = 16;
  cfg.num_layers = 2;
  cfg.num_heads = 2;
  cfg.intermediate_size = 32;
  cfg.max_position_embeddings = 16;
  const ParamLayout layout = make_bert_layout(cfg);
  std::vector<float> weights(static_cast<size_t>(layout.total));
  for (size_t i = 0; i < weights.size(); ++i)
    weights[i] = 0.3f * std::sin(0.7f * static_cast<float>(i));
  const BertView w = bind_bert(cfg, layout, weights.data());
  const PackedBatch batch = pack_sequences({{1, 5, 9, 2}, {1, 3, 2}, {1, 7, 7, 7, 8, 2}}, 0, 3);
  const Context ctx{Device::CPU, 2};
  auto run = [&](const DropoutState& st) {
    EncoderCache cache;
    encoder_forward(ctx, cfg, w, batch, cache, st);
    const size_t n = static_cast<size_t>(batch.tokens() * cfg.hidden_size);
    return std::vector<float>(cache.output, cache.output + n);
  };
  const DropoutState st{.seed = 1, .step = 100, .training = true};
  const auto a = run(st), b = run(st);
  CHECK(a == b);
  DropoutState next = st;
  next.step = 101;
  CHECK(run(next) != a);
  const auto eval = run(DropoutState{});
  CHECK(eval != a);
  DropoutState eval_seeded = st;
  eval_seeded.training = false;
  CHECK(run(eval_seeded) == eval);
  // The overload without a DropoutState is eval.
  EncoderCache cache;
  encoder_forward(ctx, cfg, w, batch, cache);
  CHECK(std::memcmp(cache.output, eval.data(), eval.size() * sizeof(float)) == 0);
}
