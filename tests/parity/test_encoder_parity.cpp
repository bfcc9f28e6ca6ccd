// The CPU encoder against Hugging Face transformers (every layer's hidden states) and
// sentence-transformers (final embeddings), on the fixture texts. Fixtures: tests/fixtures/*/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/safetensors.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;

namespace {

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
  const Model m = Model::load(*dir);
  const auto all = truncated_ids(model);
  const auto f = SafetensorsFile::open(test::fixture_dir(model) / "hidden.safetensors");
  const auto index = f.read_i64("text_index");
  const auto offsets = f.read_i64("offsets");
  std::vector<std::vector<int32_t>> ids;
  for (int64_t i : index) ids.push_back(all[static_cast<size_t>(i)]);
  const HiddenStates hs = m.hidden_states(ids, 2);
  REQUIRE(hs.offsets == offsets);
  REQUIRE(hs.layers.size() == static_cast<size_t>(m.config().num_layers + 1));
  for (size_t l = 0; l < hs.layers.size(); ++l) {
    const auto ref = f.read_f32("hidden_states." + std::to_string(l));
    REQUIRE(ref.size() == hs.layers[l].size());
    float max_ref = 0, max_err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(ref[i]));
      max_err = std::max(max_err, std::fabs(ref[i] - hs.layers[l][i]));
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

}  // namespace

TEST_CASE("encoder hidden states match transformers, every layer", "[parity][encoder]") {
  check_hidden_states("tiny-bert");
  check_hidden_states("tiny-bert-cls");
  check_hidden_states("minilm");
}

TEST_CASE("sentence embeddings match sentence-transformers", "[parity][encoder]") {
  for (const std::string model : {"tiny-bert", "tiny-bert-cls", "minilm"}) {
    const auto dir = test::model_dir(model);
    if (!dir) {
      WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping " << model);
      continue;
    }
    const Model m = Model::load(*dir);
    const auto ref = SafetensorsFile::open(test::fixture_dir(model) / "embeddings.safetensors")
                         .read_f32("embeddings");
    EmbedOptions opt;
    opt.threads = 2;
    // From the reference token ids (the encoder alone) ...
    const Embeddings from_ids = m.embed_ids(truncated_ids(model), opt);
    const float err_ids = max_abs_diff(from_ids.data, ref);
    // ... and from the texts (tokenizer + encoder), with a batch size unlike the reference's.
    opt.batch_size = 17;
    const Embeddings from_text = m.embed(test::fixture_texts(), opt);
    const float err_text = max_abs_diff(from_text.data, ref);
    std::printf("parity %-14s embeddings (%lld x %lld): max |err| from ids %.3g, from text %.3g\n",
                model.c_str(), static_cast<long long>(from_ids.rows),
                static_cast<long long>(from_ids.dim), static_cast<double>(err_ids),
                static_cast<double>(err_text));
    CHECK(err_ids <= 1e-5f);
    CHECK(err_text <= 1e-5f);
  }
}
