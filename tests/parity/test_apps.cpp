// sbert-embed and sbert-tokenize, run as a user runs them, against the reference fixtures.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "io/npy.h"
#include "io/safetensors.h"
#include "support/fixtures.h"

using namespace sbert;

namespace {

// The fixture texts as JSONL (texts hold newlines and tabs, so not as plain lines).
std::filesystem::path write_texts_jsonl(const test::TempDir& tmp) {
  const auto src = test::source_dir() / "tests/data/texts.jsonl";
  const auto dst = tmp / "texts.jsonl";
  std::filesystem::copy_file(src, dst);
  return dst;
}

}  // namespace

TEST_CASE("sbert-embed gives sentence-transformers' vectors", "[apps][parity]") {
  for (const std::string model : {"tiny-bert", "minilm"}) {
    const auto dir = test::model_dir(model);
    if (!dir) {
      WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping " << model);
      continue;
    }
    test::TempDir tmp;
    const auto input = write_texts_jsonl(tmp);
    const auto out = tmp / "emb.npy";
    const auto r = test::run_app("sbert-embed",
                                 {"--model", dir->string(), "--input", input.string(), "--output",
                                  out.string(), "--batch-size", "16", "--threads", "2"});
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    const NpyF32 got = read_npy_f32(out);
    const auto ref = SafetensorsFile::open(test::fixture_dir(model) / "embeddings.safetensors");
    const auto& info = ref.info("embeddings");
    REQUIRE(got.shape == info.shape);
    const auto want = ref.read_f32("embeddings");
    float err = 0;
    for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(want[i] - got.data[i]));
    std::printf("sbert-embed %s: %lld x %lld, max |err| vs sentence-transformers %.3g\n",
                model.c_str(), static_cast<long long>(got.shape[0]),
                static_cast<long long>(got.shape[1]), static_cast<double>(err));
    CHECK(err <= 1e-5f);
  }
}

TEST_CASE("sbert-tokenize writes Hugging Face's ids, one line per text", "[apps][parity]") {
  test::TempDir tmp;
  const auto input = write_texts_jsonl(tmp);
  const auto out = tmp / "ids.jsonl";
  const auto r =
      test::run_app("sbert-tokenize", {"--model", test::fixture_dir("tiny-bert").string(),
                                       "--input", input.string(), "--output", out.string()});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  const auto f = SafetensorsFile::open(test::fixture_dir("tiny-bert") / "tokens.safetensors");
  const auto want = test::split_ids(f.read_i32("ids"), f.read_i64("offsets"));
  std::ifstream in(out);
  size_t n = 0, mismatches = 0;
  for (std::string line; std::getline(in, line); ++n) {
    std::string expect = "{\"input_ids\": [";
    for (size_t i = 0; i < want.at(n).size(); ++i) {
      expect += (i ? ", " : "") + std::to_string(want[n][i]);
    }
    expect += "]}";
    if (line != expect) ++mismatches;
  }
  CHECK(n == want.size());
  CHECK(mismatches == 0);
}
