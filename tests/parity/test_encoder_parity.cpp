// The CPU encoder against Hugging Face transformers (every layer's hidden states) and
// sentence-transformers (final embeddings), on the fixture texts. Fixtures: tests/fixtures/*/.
// BERT (tiny-bert, tiny-bert-cls, MiniLM), XLM-RoBERTa (tiny-xlmr) and RoBERTa (tiny-roberta).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/context.h"
#include "io/safetensors.h"
#include "nn/encoder.h"
#include "nn/pooling.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "support/weights.h"

using namespace sbert;
namespace fs = std::filesystem;

namespace {

const char* const kModels[] = {"tiny-bert", "tiny-bert-cls", "minilm", "tiny-xlmr", "tiny-roberta"};

std::vector<std::vector<int32_t>> truncated_ids(const std::string& model) {
  const auto f = SafetensorsFile::open(test::fixture_dir(model) / "tokens.safetensors");
  return test::split_ids(f.read_i32("ids_trunc"), f.read_i64("offsets_trunc"));
}

void check_hidden_states(const std::string& model) {
  const auto dir = test::model_dir(model);
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping " << model);
    return;
  }
  const test::EncoderWeights m(*dir);
  const auto all = truncated_ids(model);
  const auto f = SafetensorsFile::open(test::fixture_dir(model) / "hidden.safetensors");
  const auto index = f.read_i64("text_index");
  const auto offsets = f.read_i64("offsets");
  std::vector<std::vector<int32_t>> ids;
  for (int64_t i : index) ids.push_back(all[static_cast<size_t>(i)]);
  const PackedBatch batch = pack_sequences(ids, 0, static_cast<int64_t>(ids.size()));
  REQUIRE(batch.cu_seqlens == offsets);
  const Context ctx{Device::CPU, 2};
  apply_cpu_threads(ctx);
  EncoderCache cache;
  std::vector<std::vector<float>> layers(static_cast<size_t>(m.config.num_layers + 1));
  const size_t n = static_cast<size_t>(batch.tokens() * m.config.hidden_size);
  encoder_forward(ctx, m.config, m.view, batch, cache,
                  [&](int l, const float* h) { layers[static_cast<size_t>(l)].assign(h, h + n); });
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto ref = f.read_f32("hidden_states." + std::to_string(l));
    REQUIRE(ref.size() == layers[l].size());
    float max_ref = 0, max_err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(ref[i]));
      max_err = std::max(max_err, std::fabs(ref[i] - layers[l][i]));
    }
    const float tol = 1e-5f * (1.0f + max_ref);
    std::printf("parity %-14s layer %zu: max |err| %.3g (max |value| %.3g, tolerance %.3g)\n",
                model.c_str(), l, static_cast<double>(max_err), static_cast<double>(max_ref),
                static_cast<double>(tol));
    INFO(model << " layer " << l << " max error " << max_err << " tolerance " << tol);
    CHECK(max_err <= tol);
  }
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Sentence embeddings of the reference token ids: the encoder and the folder's pooling head
// alone, batches of `batch_size` sequences.
std::vector<float> embed_ids(const test::EncoderWeights& m,
                             const std::vector<std::vector<int32_t>>& ids, int64_t batch_size) {
  const Context ctx{Device::CPU, 2};
  apply_cpu_threads(ctx);
  const int64_t rows = static_cast<int64_t>(ids.size()), H = m.config.hidden_size;
  std::vector<float> out(static_cast<size_t>(rows * H));
  EncoderCache cache;
  PoolingCache pool;
  for (int64_t begin = 0; begin < rows; begin += batch_size) {
    const int64_t end = std::min(rows, begin + batch_size);
    const PackedBatch batch = pack_sequences(ids, begin, end);
    encoder_forward(ctx, m.config, m.view, batch, cache);
    pooling_forward(ctx, m.config, cache.output, batch, pool);
    pool.out.read(ctx, out.data() + begin * H);
  }
  return out;
}

}  // namespace

TEST_CASE("encoder hidden states match transformers, every layer", "[parity][encoder]") {
  for (const char* model : kModels) check_hidden_states(model);
}

TEST_CASE("sentence embeddings match sentence-transformers", "[parity][encoder]") {
  for (const std::string model : kModels) {
    const auto dir = test::model_dir(model);
    if (!dir) {
      WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping " << model);
      continue;
    }
    const auto ref = SafetensorsFile::open(test::fixture_dir(model) / "embeddings.safetensors")
                         .read_f32("embeddings");
    // From the reference token ids (the encoder alone) ...
    const float err_ids =
        max_abs_diff(embed_ids(test::EncoderWeights(*dir), truncated_ids(model), 32), ref);
    // ... and from the texts (tokenizer + encoder), with a batch size unlike the reference's.
    const Model m = Model::load(*dir);
    EmbedOptions opt;
    opt.threads = 2;
    opt.batch_size = 17;
    const Embeddings from_text = m.embed(test::fixture_texts(test::texts_file_of(model)), opt);
    const float err_text = max_abs_diff(from_text.data, ref);
    std::printf("parity %-14s embeddings (%lld x %lld): max |err| from ids %.3g, from text %.3g\n",
                model.c_str(), static_cast<long long>(from_text.rows),
                static_cast<long long>(from_text.dim), static_cast<double>(err_ids),
                static_cast<double>(err_text));
    CHECK(err_ids <= 1e-5f);
    CHECK(err_text <= 1e-5f);
  }
}
