// The hand-written backward (encoder + pooling + normalize) against PyTorch autograd: for a
// fixed batch, loss = sum(embeddings * R), eval mode, fp32. Every parameter tensor must satisfy
// ||ours - ref|| / ||ref|| <= 1e-4 (BERT and XLM-RoBERTa). Fixtures: tests/fixtures/grad/
// (written by tools/reference/make_grad_fixtures.py; see the README there for what is stored
// and how the MiniLM matrices are compared through random sign sketches).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "api/model_impl.h"
#include "io/safetensors.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "support/weights.h"

using namespace sbert;

namespace {

constexpr double kTol = 1e-4;
constexpr uint64_t kSketchSeed = 0x5EB327D50C1A4F11ull;  // make_grad_fixtures.py SKETCH_SEED
constexpr int kSketchDirections = 128;

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name) {
  REQUIRE(f.info(name).dtype == DType::F64);
  const auto bytes = f.bytes(name);
  std::vector<double> v(bytes.size() / sizeof(double));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(double));
  return v;
}

uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// <s_k, g> for the fixture's Rademacher directions s_k (see make_grad_fixtures.py). The signs
// of 8 directions come from one byte of the hash through a table, so the inner loop is plain
// multiply-adds.
std::vector<double> sketch(const float* g, int64_t n) {
  static const auto signs = [] {
    std::vector<double> t(256 * 8);
    for (int byte = 0; byte < 256; ++byte) {
      for (int b = 0; b < 8; ++b)
        t[static_cast<size_t>(byte * 8 + b)] = ((byte >> b) & 1) ? -1.0 : 1.0;
    }
    return t;
  }();
  std::vector<double> acc(kSketchDirections, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(g[i]);
    for (int w = 0; w < kSketchDirections / 64; ++w) {
      const uint64_t z = splitmix64_mix(
          kSketchSeed +
          (2 * static_cast<uint64_t>(i) + static_cast<uint64_t>(w) + 1) * 0x9E3779B97F4A7C15ull);
      for (int byte = 0; byte < 8; ++byte) {
        const double* sg = signs.data() + ((z >> (8 * byte)) & 0xff) * 8;
        double* a = acc.data() + w * 64 + byte * 8;
        for (int b = 0; b < 8; ++b) a[b] += v * sg[b];
      }
    }
  }
  return acc;
}

double norm2(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x * x;
  return s;
}

struct TensorResult {
  std::string name;
  std::string how;  // full | rows | sketch
  double rel = 0.0;
};

// ||ours - ref|| / ||ref|| of one parameter tensor, from whatever the fixture stores for it.
TensorResult compare(const SafetensorsFile& f, const ParamSpec& s, const float* ours) {
  TensorResult r{s.name, "", 0.0};
  double ref_norm = read_f64(f, "norm/" + s.name).at(0);
  if (s.name.find("attention.self.key.bias") != std::string::npos) {
    // Exactly 0 in exact arithmetic (softmax is shift invariant per row): both sides hold
    // rounding noise only. Measured against the query bias gradient of the same layer.
    std::string q = s.name;
    q.replace(q.find("key.bias"), 8, "query.bias");
    ref_norm = std::max(ref_norm, read_f64(f, "norm/" + q).at(0));
  }
  double err2 = 0.0;
  if (f.contains("grad/" + s.name)) {
    r.how = "full";
    const auto ref = f.read_f32("grad/" + s.name, s.shape);
    for (int64_t i = 0; i < s.numel; ++i) {
      const double d =
          static_cast<double>(ours[i]) - static_cast<double>(ref[static_cast<size_t>(i)]);
      err2 += d * d;
    }
  } else if (f.contains("rows/" + s.name)) {
    r.how = "rows";
    const int64_t C = s.shape[1];
    const auto rows = f.read_i64("rows/" + s.name);
    const auto ref = f.read_f32("grad_rows/" + s.name);
    REQUIRE(ref.size() == rows.size() * static_cast<size_t>(C));
    std::vector<char> listed(static_cast<size_t>(s.shape[0]), 0);
    for (size_t k = 0; k < rows.size(); ++k) {
      listed[static_cast<size_t>(rows[k])] = 1;
      for (int64_t j = 0; j < C; ++j) {
        const double d =
            static_cast<double>(ours[rows[k] * C + j]) -
            static_cast<double>(ref[k * static_cast<size_t>(C) + static_cast<size_t>(j)]);
        err2 += d * d;
      }
    }
    for (int64_t row = 0; row < s.shape[0]; ++row) {  // every other row: exactly 0 in PyTorch
      if (listed[static_cast<size_t>(row)]) continue;
      for (int64_t j = 0; j < C; ++j) {
        const double v = static_cast<double>(ours[row * C + j]);
        err2 += v * v;
      }
    }
  } else {
    r.how = "sketch";
    const auto ref = read_f64(f, "sketch/" + s.name);
    REQUIRE(ref.size() == static_cast<size_t>(kSketchDirections));
    const auto mine = sketch(ours, s.numel);
    for (int k = 0; k < kSketchDirections; ++k) {
      const double d = mine[static_cast<size_t>(k)] - ref[static_cast<size_t>(k)];
      err2 += d * d;
    }
    err2 /= kSketchDirections;  // E[<s, x>^2] = ||x||^2
    // Sanity of the sketch itself: it estimates ||ref||^2 within sampling error.
    CHECK(std::sqrt(norm2(ref) / kSketchDirections) == Approx(ref_norm).epsilon(0.5));
    // And exact entries at random positions, element by element.
    const auto idx = f.read_i64("sample_idx/" + s.name);
    const auto val = f.read_f32("sample/" + s.name);
    std::vector<double> a, b;
    for (size_t k = 0; k < idx.size(); ++k) {
      a.push_back(static_cast<double>(ours[idx[k]]));
      b.push_back(static_cast<double>(val[k]));
    }
    double num = 0.0;
    for (size_t k = 0; k < a.size(); ++k) num += (a[k] - b[k]) * (a[k] - b[k]);
    INFO(s.name << ": sampled entries");
    CHECK(std::sqrt(num / norm2(b)) <= kTol);
  }
  r.rel = std::sqrt(err2) / ref_norm;
  return r;
}

void check_backward_parity(const std::string& model) {
  const auto dir = test::model_dir(model);
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping " << model);
    return;
  }
  const test::EncoderWeights impl(*dir);  // from ids: no tokenizer needed
  const ModelConfig& cfg = impl.config;
  const auto f = SafetensorsFile::open(test::fixture_dir("grad") / (model + ".safetensors"));

  PackedBatch batch;
  batch.ids = f.read_i32("ids");
  batch.cu_seqlens = f.read_i64("cu_seqlens");
  const int64_t n = batch.nseq(), H = cfg.hidden_size;
  const auto R = f.read_f32("R", {n, H});

  const Context ctx{Device::CPU, 2};
  apply_cpu_threads(ctx);
  EncoderCache cache;
  cache.keep_all = true;
  PoolingCache pool;
  encoder_forward(ctx, cfg, impl.view, batch, cache, DropoutState{});
  pooling_forward(ctx, cfg, cache.output, batch, pool);
  const auto emb = f.read_f32("embeddings", {n, H});
  float emb_err = 0.0f;
  for (size_t i = 0; i < emb.size(); ++i)
    emb_err = std::max(emb_err, std::fabs(emb[i] - pool.out.host()[i]));
  CHECK(emb_err <= 1e-5f);

  std::vector<float> dhidden(static_cast<size_t>(batch.tokens() * H));
  pooling_backward(ctx, cfg, batch, pool, R.data(), dhidden.data());
  std::vector<float> grad(static_cast<size_t>(impl.layout.total), 0.0f);
  const BertView g = bind_bert(cfg, impl.layout, grad.data());
  encoder_backward(ctx, cfg, impl.view, batch, cache, DropoutState{}, dhidden.data(), g);

  const bool verbose = std::getenv("SBERT_TEST_VERBOSE") != nullptr;
  double worst = 0.0;
  std::string worst_name;
  for (const ParamSpec& s : impl.layout.specs) {
    const TensorResult r = compare(f, s, grad.data() + s.offset);
    if (verbose)
      std::printf("  %-14s %-55s %-6s %.3e\n", model.c_str(), s.name.c_str(), r.how.c_str(), r.rel);
    if (r.rel > worst) {
      worst = r.rel;
      worst_name = s.name;
    }
    INFO(model << " " << s.name << " (" << r.how << "): ||ours - ref|| / ||ref|| = " << r.rel);
    CHECK(r.rel <= kTol);
  }
  std::printf(
      "parity %-14s backward: %zu tensors, max ||ours - ref|| / ||ref|| %.3g (%s); "
      "embeddings max |err| %.3g\n",
      model.c_str(), impl.layout.specs.size(), worst, worst_name.c_str(),
      static_cast<double>(emb_err));
}

}  // namespace

TEST_CASE("encoder + pooling gradients match PyTorch autograd", "[parity][backward]") {
  check_backward_parity("tiny-bert");
  check_backward_parity("tiny-bert-cls");
  check_backward_parity("minilm");
  // XLM-RoBERTa: positions from pad_token_id + 1, a literal "<pad>" at position pad_token_id
  // (neither its word row nor that position row gets a gradient), one token type.
  check_backward_parity("tiny-xlmr");
}
