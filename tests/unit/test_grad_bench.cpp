// Timing of one training forward + backward on all-MiniLM-L6-v2 (hidden test, not run by
// default):  SBERT_BENCH_THREADS=2 build/bin/sbert_tests "[.bench]"
// A batch of 32 sequences x 128 tokens, dropout on, 2 threads unless SBERT_BENCH_THREADS says.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "api/model_impl.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;

TEST_CASE("MiniLM forward + backward timing, 32 x 128 tokens", "[.bench]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping");
    return;
  }
  const Model m = Model::load(*dir);
  const Model::Impl& impl = m.impl();
  const ModelConfig& cfg = impl.config;
  std::mt19937 rng(1);
  std::vector<std::vector<int32_t>> seqs(32);
  for (auto& s : seqs) {
    s.push_back(101);
    while (s.size() < 127) s.push_back(static_cast<int32_t>(1000 + rng() % 28000));
    s.push_back(102);
  }
  const PackedBatch batch = pack_sequences(seqs, 0, 32);
  const char* env = std::getenv("SBERT_BENCH_THREADS");
  const Context ctx{Device::CPU, env ? std::atoi(env) : 2};
  const int threads = apply_cpu_threads(ctx);
  EncoderCache cache;
  cache.keep_all = true;
  PoolingCache pool;
  std::vector<float> grad(static_cast<size_t>(impl.layout.total), 0.0f);
  const BertView g = bind_bert(cfg, impl.layout, grad.data());
  std::vector<float> dhidden(static_cast<size_t>(batch.tokens() * cfg.hidden_size));
  std::vector<float> R(static_cast<size_t>(32 * cfg.hidden_size), 0.01f);
  auto cpu_s = [] {  // process CPU time (all threads): robust to other load on the machine
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (int rep = 0; rep < 4; ++rep) {  // the first run allocates the caches
    const DropoutState st{.seed = 1, .step = static_cast<uint64_t>(rep), .training = true};
    const double c0 = cpu_s();
    const auto t0 = clock::now();
    encoder_forward(ctx, cfg, impl.view, batch, cache, st);
    pooling_forward(ctx, cfg, cache.output, batch, pool);
    const auto t1 = clock::now();
    pooling_backward(ctx, cfg, batch, pool, R.data(), dhidden.data());
    encoder_backward(ctx, cfg, impl.view, batch, cache, st, dhidden.data(), g);
    const auto t2 = clock::now();
    const double c2 = cpu_s();
    std::printf(
        "MiniLM 32 x 128, %d threads, run %d: forward %.0f ms, backward %.0f ms, "
        "total %.0f ms wall, %.0f ms CPU (all threads)\n",
        threads, rep, ms(t1 - t0), ms(t2 - t1), ms(t2 - t0), 1e3 * (c2 - c0));
  }
}
