// [cuda] Inference on the device end to end: Model::embed with Device::CUDA runs the encoder,
// pooling and normalization on the GPU (device weights, device caches, only ids and offsets
// copied in) and must give the CPU's embeddings within 1e-5 on every fixture architecture and on
// all-MiniLM-L6-v2. Under the SIMT emulator every kernel of the pass runs with memcheck,
// initcheck and racecheck on.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "io/npy.h"
#include "sbert/json.h"
#include "sbert/model.h"
#include "support/fixtures.h"

namespace sbert::test {

namespace {

double max_abs_diff(const Embeddings& a, const Embeddings& b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.dim == b.dim);
  double worst = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a.data[i]) - static_cast<double>(b.data[i]));
    worst = std::isfinite(d) ? std::max(worst, d) : 1e30;
  }
  return worst;
}

// The CPU's and the device's embeddings of texts, batches of 3 (several batches, growing and
// shrinking caches, a last batch of one or two).
void check_device_matches_cpu(const Model& model, const std::vector<std::string>& texts,
                              double tol) {
  EmbedOptions o;
  o.batch_size = 3;
  o.threads = 2;
  const Embeddings cpu = model.embed(texts, o);
  o.device = Device::CUDA;
  const Embeddings gpu = model.embed(texts, o);
  const double err = max_abs_diff(gpu, cpu);
  INFO(model.path().string() << ": max |cuda - cpu| = " << err << " over " << cpu.rows << " x "
                             << cpu.dim);
  CHECK(err <= tol);
}

}  // namespace

TEST_CASE("cuda embed equals the CPU on every fixture architecture", "[cuda]") {
  if (!have_gpu()) return;
  for (const char* name : {"tiny-bert", "tiny-bert-cls", "tiny-roberta", "tiny-xlmr"}) {
    INFO(name);
    const Model model = Model::load(*model_dir(name));
    check_device_matches_cpu(model, fixture_texts(texts_file_of(name)), 1e-5);
  }
}

TEST_CASE("cuda embed equals the CPU on all-MiniLM-L6-v2 within 1e-5", "[cuda]") {
  if (!have_gpu()) return;
  const auto dir = minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found: skipped");
    return;
  }
  const Model model = Model::load(*dir);
  std::vector<std::string> texts = fixture_texts();
  texts.resize(std::min<size_t>(texts.size(), 7));
  check_device_matches_cpu(model, texts, 1e-5);

  // The options that act after the device pass: truncation and normalization.
  EmbedOptions o;
  o.truncate_dim = 128;
  o.normalize = true;
  const Embeddings cpu = model.embed(texts, o);
  o.device = Device::CUDA;
  CHECK(max_abs_diff(model.embed(texts, o), cpu) <= 1e-5);

  // int8 is a CPU path: refused on the device, with the reason.
  o.quantize = Quantize::Int8;
  CHECK_THROWS_WITH(model.embed(texts, o), Catch::Contains("int8 inference runs on the CPU only"));
}

TEST_CASE("cuda sbert-embed --device cuda writes the CPU's embeddings", "[cuda]") {
  if (!have_gpu()) return;
  if (!std::filesystem::exists(app_path("sbert-embed"))) {
    WARN("sbert-embed is not built in this tree: skipped");
    return;
  }
  TempDir tmp;
  const std::string model = model_dir("tiny-bert")->string();
  std::string text;
  for (const auto& t : fixture_texts()) text += t + "\n";
  put(tmp / "in.txt", text);
  const auto embed = [&](const std::string& out, const std::string& device) {
    const auto r = run_app("sbert-embed", {"--model", model, "--input", (tmp / "in.txt").string(),
                                           "--output", (tmp / out).string(), "--device", device});
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    return read_npy_f32(tmp / out);
  };
  const NpyF32 cpu = embed("cpu.npy", "cpu"), gpu = embed("gpu.npy", "cuda");
  CHECK(gpu.shape == cpu.shape);
  REQUIRE(gpu.data.size() == cpu.data.size());
  double worst = 0.0;
  for (size_t i = 0; i < cpu.data.size(); ++i) {
    worst = std::max(
        worst, std::fabs(static_cast<double>(gpu.data[i]) - static_cast<double>(cpu.data[i])));
  }
  CHECK(worst <= 1e-5);
}

TEST_CASE("cuda sbert-eval and sbert-mine on the device give the CPU's results", "[cuda]") {
  if (!have_gpu()) return;
  if (!std::filesystem::exists(app_path("sbert-eval")) ||
      !std::filesystem::exists(app_path("sbert-mine"))) {
    WARN("sbert-eval / sbert-mine are not built in this tree: skipped");
    return;
  }
  const std::string model = model_dir("tiny-bert")->string();
  TempDir tmp;
  // A small retrieval set from the fixture texts: query i is text i, its positive text i + 8.
  const std::vector<std::string> texts = fixture_texts();
  REQUIRE(texts.size() >= 16);
  std::string corpus, queries, qrels = "query-id\tcorpus-id\tscore\n";
  const auto record = [](const std::string& id, const std::string& text) {
    JsonWriter w;
    w.begin_object().member("_id", id).member("text", text).end_object();
    return w.take() + "\n";
  };
  // Appended piecewise: `"literal" + std::string&&` trips g++ 12's -Wrestrict false positive.
  const auto id = [](char prefix, size_t i) {
    std::string s(1, prefix);
    s += std::to_string(i);
    return s;
  };
  for (size_t i = 0; i < 16; ++i) corpus += record(id('d', i), texts[i]);
  for (size_t i = 0; i < 8; ++i) {
    queries += record(id('q', i), texts[i]);
    qrels += id('q', i);
    qrels += '\t';
    qrels += id('d', i + 8);
    qrels += "\t1\n";
  }
  put(tmp / "beir/corpus.jsonl", corpus);
  put(tmp / "beir/queries.jsonl", queries);
  put(tmp / "beir/qrels/train.tsv", qrels);
  put(tmp / "beir/qrels/test.tsv", qrels);
  for (const std::string d : {"cpu", "cuda"}) {
    const auto m = run_app("sbert-mine", {"--model", model, "--beir", (tmp / "beir").string(),
                                          "--output", (tmp / d).replace_extension("jsonl").string(),
                                          "--num-negatives", "3", "--device", d});
    INFO(m.stderr_text);
    REQUIRE(m.exit_code == 0);
  }
  // The same negatives, and metrics equal to four decimals (scores differ in the last bits).
  CHECK(slurp(tmp / "cuda.jsonl") == slurp(tmp / "cpu.jsonl"));
  const auto metrics = [&](const std::string& d) {
    const auto r =
        run_app("sbert-eval", {"--model", model, "--beir", (tmp / "beir").string(), "--device", d});
    REQUIRE(r.exit_code == 0);
    const std::string& out = r.stdout_text;  // less its last line, the timing
    return out.substr(0, out.rfind('\n', out.rfind(" s (")));
  };
  CHECK(metrics("cuda") == metrics("cpu"));
}

}  // namespace sbert::test
