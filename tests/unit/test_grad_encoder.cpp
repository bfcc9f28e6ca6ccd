// The whole encoder + pooling head in fp64 on a tiny random BERT against central finite
// differences: loss = <R, embeddings>, a few random entries of EVERY parameter tensor.
// Also: the gradient rule (a second backward adds the same again), training-mode dropout
// (masks fixed by the DropoutState, so finite differences still apply), and determinism of
// the fp32 backward.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "nn/encoder.h"
#include "nn/pooling.h"
#include "test_grad_util.h"

using namespace sbert;
using namespace sbert::test;

namespace {

ModelConfig tiny_config(Pooling pooling, bool normalize) {
  ModelConfig cfg;
  cfg.vocab_size = 13;
  cfg.hidden_size = 8;
  cfg.num_layers = 2;
  cfg.num_heads = 2;
  cfg.intermediate_size = 12;
  cfg.max_position_embeddings = 8;
  cfg.type_vocab_size = 2;
  cfg.layer_norm_eps = 1e-12f;
  cfg.hidden_dropout = 0.2f;
  cfg.attention_dropout = 0.3f;
  cfg.pooling = pooling;
  cfg.normalize = normalize;
  return cfg;
}

PackedBatch tiny_batch() {
  // Lengths 4, 1, 6, 3; token 7 twice in a sequence and across sequences; ids 10..12 unused.
  return pack_sequences({{2, 7, 5, 3}, {2}, {2, 7, 9, 1, 7, 3}, {2, 4, 3}}, 0, 4);
}

template <class T>
std::vector<T> random_weights(const ParamLayout& layout, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  std::vector<T> w(static_cast<size_t>(layout.total), T(0));
  for (const ParamSpec& s : layout.specs) {
    const bool ln_w = s.name.find("LayerNorm.weight") != std::string::npos;
    const bool bias = s.name.find("bias") != std::string::npos;
    for (int64_t i = 0; i < s.numel; ++i) {
      const double z = n01(rng);
      w[static_cast<size_t>(s.offset + i)] = static_cast<T>(ln_w   ? 1.0 + 0.2 * z
                                                            : bias ? 0.1 * z
                                                                   : 0.4 * z);
    }
  }
  return w;
}

template <class T>
struct Harness {
  ModelConfig cfg;
  ParamLayout layout;
  PackedBatch batch;
  std::vector<T> weights;
  std::vector<T> R;  // (nseq, H) upstream gradient of the embeddings
  Context ctx{Device::CPU, 0};

  Harness(const ModelConfig& c, const PackedBatch& b, uint64_t seed)
      : cfg(c), layout(make_bert_layout(c)), batch(b), weights(random_weights<T>(layout, seed)) {
    std::mt19937_64 rng(seed + 1);
    std::normal_distribution<double> n01(0.0, 1.0);
    R.resize(static_cast<size_t>(batch.nseq() * cfg.hidden_size));
    for (T& v : R) v = static_cast<T>(n01(rng));
  }

  double loss(const DropoutState& st) {
    const BertViewT<T> w = bind_bert(cfg, layout, weights.data());
    EncoderCacheT<T> cache;
    PoolingCacheT<T> pool;
    encoder_forward(ctx, cfg, w, batch, cache, st);
    pooling_forward(ctx, cfg, cache.output, batch, pool);
    double s = 0.0;
    for (size_t i = 0; i < R.size(); ++i) {
      s += static_cast<double>(pool.out.host()[i]) * static_cast<double>(R[i]);
    }
    return s;
  }

  // Accumulates d loss / d weights into grad (layout.total).
  void backward(const DropoutState& st, std::vector<T>& grad) {
    const BertViewT<T> w = bind_bert(cfg, layout, weights.data());
    const BertViewT<T> g = bind_bert(cfg, layout, grad.data());
    EncoderCacheT<T> cache;
    cache.keep_all = true;
    PoolingCacheT<T> pool;
    encoder_forward(ctx, cfg, w, batch, cache, st);
    pooling_forward(ctx, cfg, cache.output, batch, pool);
    std::vector<T> dhidden(static_cast<size_t>(batch.tokens() * cfg.hidden_size));
    pooling_backward(ctx, cfg, batch, pool, R.data(), dhidden.data());
    encoder_backward(ctx, cfg, w, batch, cache, st, dhidden.data(), g);
  }
};

// Entries to probe in tensor s: a few random ones; for the word embeddings rows of tokens in
// the batch plus one absent row (whose gradient must be exactly 0).
std::vector<size_t> probe_entries(const ParamSpec& s, std::mt19937_64& rng, int64_t H) {
  std::vector<size_t> idx;
  if (s.name == "embeddings.word_embeddings.weight") {
    for (int64_t row : {2, 7, 3, 11}) {
      for (int64_t j : {0, 3, 7}) idx.push_back(static_cast<size_t>(s.offset + row * H + j));
    }
    return idx;
  }
  if (s.name == "embeddings.position_embeddings.weight") {  // positions 0..5 used, 6..7 not
    for (int64_t row : {0, 1, 5, 7}) idx.push_back(static_cast<size_t>(s.offset + row * H + 2));
    return idx;
  }
  std::uniform_int_distribution<int64_t> pick(0, s.numel - 1);
  std::set<int64_t> chosen;
  while (static_cast<int64_t>(chosen.size()) < std::min<int64_t>(6, s.numel))
    chosen.insert(pick(rng));
  for (int64_t i : chosen) idx.push_back(static_cast<size_t>(s.offset + i));
  return idx;
}

void check_encoder(const ModelConfig& cfg, const DropoutState& st, const char* label) {
  Harness<double> hz(cfg, tiny_batch(), 11);
  std::vector<double> grad(static_cast<size_t>(hz.layout.total), 0.0);
  hz.backward(st, grad);
  std::mt19937_64 rng(12);
  double worst = 0.0;
  for (const ParamSpec& s : hz.layout.specs) {
    const auto idx = probe_entries(s, rng, cfg.hidden_size);
    const auto num = numeric_grad(hz.weights, idx, [&] { return hz.loss(st); });
    std::vector<double> ana;
    for (size_t i : idx) ana.push_back(grad[i]);
    const double e = rel_err(ana, num);
    worst = std::max(worst, e);
    INFO(label << ": " << s.name);
    CHECK(e < 1e-6);
    if (s.name == "embeddings.word_embeddings.weight") {
      for (size_t k = 9; k < 12; ++k) CHECK(ana[k] == 0.0);  // row 11 is not in the batch
    }
    if (s.name == "embeddings.position_embeddings.weight") CHECK(ana[3] == 0.0);  // position 7
  }
  report(std::string("encoder+pooling, worst tensor, ") + label, worst);
}

}  // namespace

TEST_CASE("encoder + pooling backward matches finite differences (fp64)", "[grad]") {
  SECTION("mean pooling + normalize, eval") {
    check_encoder(tiny_config(Pooling::Mean, true), DropoutState{}, "mean+norm eval");
  }
  SECTION("CLS pooling, no normalize, eval") {
    check_encoder(tiny_config(Pooling::CLS, false), DropoutState{}, "cls eval");
  }
  SECTION("mean pooling + normalize, training (dropout at every site)") {
    check_encoder(tiny_config(Pooling::Mean, true),
                  DropoutState{.seed = 5, .step = 17, .training = true}, "mean+norm dropout");
  }
}

TEST_CASE("encoder backward accumulates parameter gradients", "[grad]") {
  Harness<double> hz(tiny_config(Pooling::Mean, true), tiny_batch(), 21);
  std::vector<double> once(static_cast<size_t>(hz.layout.total), 0.0);
  hz.backward(DropoutState{}, once);
  std::vector<double> twice = once;
  hz.backward(DropoutState{}, twice);
  for (size_t i = 0; i < once.size(); ++i) REQUIRE(twice[i] == Approx(2 * once[i]).margin(1e-15));
}

TEST_CASE("encoder backward refuses a cache it cannot use", "[grad]") {
  Harness<float> hz(tiny_config(Pooling::Mean, true), tiny_batch(), 22);
  const BertView w = bind_bert(hz.cfg, hz.layout, hz.weights.data());
  std::vector<float> grad(static_cast<size_t>(hz.layout.total), 0.0f);
  const BertView g = bind_bert(hz.cfg, hz.layout, grad.data());
  std::vector<float> dh(static_cast<size_t>(hz.batch.tokens() * hz.cfg.hidden_size), 1.0f);
  EncoderCache cache;  // keep_all = false
  encoder_forward(hz.ctx, hz.cfg, w, hz.batch, cache);
  CHECK_THROWS_WITH(
      encoder_backward(hz.ctx, hz.cfg, w, hz.batch, cache, DropoutState{}, dh.data(), g),
      Catch::Contains("keep_all"));
  cache.keep_all = true;
  const DropoutState train{.seed = 1, .step = 2, .training = true};
  encoder_forward(hz.ctx, hz.cfg, w, hz.batch, cache, train);
  CHECK_THROWS_WITH(
      encoder_backward(hz.ctx, hz.cfg, w, hz.batch, cache, DropoutState{}, dh.data(), g),
      Catch::Contains("differs from the forward"));
  CHECK_NOTHROW(encoder_backward(hz.ctx, hz.cfg, w, hz.batch, cache, train, dh.data(), g));
}

TEST_CASE("fp32 encoder backward is deterministic and close to fp64", "[grad]") {
  ModelConfig cfg = tiny_config(Pooling::Mean, true);
  cfg.hidden_size = 64;
  cfg.num_heads = 4;
  cfg.intermediate_size = 128;
  cfg.vocab_size = 50;
  cfg.max_position_embeddings = 40;
  std::vector<std::vector<int32_t>> seqs;
  std::mt19937_64 rng(30);
  for (int s = 0; s < 9; ++s) {
    std::vector<int32_t> ids;
    const int len = 1 + static_cast<int>(rng() % 37);
    for (int t = 0; t < len; ++t) ids.push_back(static_cast<int32_t>(rng() % 50));
    seqs.push_back(ids);
  }
  const PackedBatch batch = pack_sequences(seqs, 0, 9);
  const DropoutState st{.seed = 3, .step = 1, .training = true};
  Harness<float> hf(cfg, batch, 31);
  hf.ctx.threads = 2;
  std::vector<float> g1(static_cast<size_t>(hf.layout.total), 0.0f), g2 = g1;
  hf.backward(st, g1);
  hf.backward(st, g2);
  CHECK(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)) == 0);

  Harness<double> hd(cfg, batch, 31);
  std::vector<double> gd(static_cast<size_t>(hd.layout.total), 0.0);
  hd.backward(st, gd);
  for (const ParamSpec& s : hd.layout.specs) {
    std::vector<double> a, b;
    for (int64_t i = 0; i < s.numel; ++i) {
      a.push_back(static_cast<double>(g1[static_cast<size_t>(s.offset + i)]));
      b.push_back(gd[static_cast<size_t>(s.offset + i)]);
    }
    INFO(s.name);
    // The key bias gradient is exactly 0 in exact arithmetic (softmax is invariant to adding
    // q.b_k to every score of a row); there only the absolute fp32 noise is compared.
    CHECK(rel_err(a, b, 1e-5) < 1e-4);
  }
}
