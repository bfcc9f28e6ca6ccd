// Bad input to the apps: a one-line error naming the file and the problem, a non-zero exit, no
// crash, no output file, and an existing output file left as it was.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using test::put;

// A copy of the tiny model that a test may break.
fs::path copy_model(const test::TempDir& tmp) {
  const fs::path dst = tmp / "model";
  fs::copy(test::fixture_dir("tiny-bert"), dst, fs::copy_options::recursive);
  return dst;
}

// Runs sbert-embed on a good input into an output file that already holds "keep": the run must
// fail with a one-line message containing every `expect`, and leave the output untouched.
void expect_embed_failure(const fs::path& model, const fs::path& input,
                          const std::vector<std::string>& expect) {
  test::TempDir out_dir;
  const fs::path out = out_dir / "out.npy";
  put(out, "keep");
  const auto r = test::run_app("sbert-embed", {"--model", model.string(), "--input", input.string(),
                                               "--output", out.string()});
  INFO("stderr: " << r.stderr_text);
  CHECK(r.exit_code == 1);
  CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
  CHECK_THAT(r.stderr_text, Contains("sbert-embed: error: "));
  for (const auto& e : expect) CHECK_THAT(r.stderr_text, Contains(e));
  CHECK(read(out) == "keep");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(out_dir.path())) ++files;
  CHECK(files == 1);  // no temporary left behind
}

}  // namespace

TEST_CASE("apps: bad models are refused with the file and the problem", "[apps][errors]") {
  test::TempDir tmp;
  const fs::path input = tmp / "in.txt";
  put(input, "hello world\nsecond line\n");

  SECTION("missing model folder") {
    expect_embed_failure(tmp / "no-such-model", input, {"no-such-model", "no such file or folder"});
  }
  SECTION("truncated safetensors") {
    const fs::path m = copy_model(tmp);
    const std::string bytes = read(m / "model.safetensors");
    put(m / "model.safetensors", bytes.substr(0, bytes.size() / 2));
    expect_embed_failure(m, input, {"model.safetensors"});
  }
  SECTION("a header that lies about sizes") {
    const fs::path m = copy_model(tmp);
    std::string bytes = read(m / "model.safetensors");
    // Grow the first tensor's end offset in the JSON header without touching the data.
    const size_t pos = bytes.find("\"data_offsets\":[0,");
    REQUIRE(pos != std::string::npos);
    // (concatenation, not std::string::replace: g++ 12 misreports -Wrestrict on it)
    bytes = bytes.substr(0, pos) + "\"data_offsets\":[9," + bytes.substr(pos + 18);
    put(m / "model.safetensors", bytes);
    expect_embed_failure(m, input, {"model.safetensors"});
  }
  SECTION("a tensor of the wrong shape") {
    const fs::path m = copy_model(tmp);
    const auto f = SafetensorsFile::open(m / "model.safetensors");
    std::vector<std::vector<float>> data;
    std::vector<TensorView> views;
    for (const auto& name : f.names()) {
      const auto& info = f.info(name);
      data.push_back(f.read_f32(name));
      auto shape = info.shape;
      if (name == "encoder.layer.1.intermediate.dense.weight") std::swap(shape[0], shape[1]);
      views.push_back({name, DType::F32, shape, nullptr});
    }
    for (size_t i = 0; i < views.size(); ++i) views[i].data = data[i].data();
    write_safetensors(tmp / "broken.safetensors", views);
    fs::rename(tmp / "broken.safetensors", m / "model.safetensors");
    expect_embed_failure(
        m, input, {"model.safetensors", "encoder.layer.1.intermediate.dense.weight", "shape"});
  }
  SECTION("an unsupported config") {
    const fs::path m = copy_model(tmp);
    std::string cfg = read(m / "config.json");
    const size_t pos = cfg.find("\"model_type\": \"bert\"");
    REQUIRE(pos != std::string::npos);
    cfg = cfg.substr(0, pos) + "\"model_type\": \"deberta-v2\"" + cfg.substr(pos + 20);
    put(m / "config.json", cfg);
    expect_embed_failure(m, input, {"config.json", "model_type", "deberta-v2"});
  }
}

TEST_CASE("apps: bad text input is refused with file and line", "[apps][errors]") {
  test::TempDir tmp;
  const fs::path model = test::fixture_dir("tiny-bert");
  SECTION("not UTF-8") {
    put(tmp / "latin1.txt", "fine\ncaf\xe9 au lait\n");
    expect_embed_failure(model, tmp / "latin1.txt", {"latin1.txt:2", "UTF-8"});
  }
  SECTION("missing input") { expect_embed_failure(model, tmp / "absent.txt", {"absent.txt"}); }
  SECTION("JSONL without a text field") {
    put(tmp / "in.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no\"}\n");
    expect_embed_failure(model, tmp / "in.jsonl", {"in.jsonl:2", "text"});
  }
  SECTION("usage errors exit 2") {
    const auto r = test::run_app("sbert-embed", {"--model", model.string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.stderr_text, Contains("--input"));
  }
}

TEST_CASE("sbert-tokenize refuses bad input the same way", "[apps][errors]") {
  test::TempDir tmp;
  put(tmp / "bad.txt", "\xff\xfe\n");
  const auto r = test::run_app(
      "sbert-tokenize", {"--model", test::fixture_dir("tiny-bert").string(), "--input",
                         (tmp / "bad.txt").string(), "--output", (tmp / "o.jsonl").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.stderr_text, Contains("bad.txt:1"));
  CHECK_FALSE(fs::exists(tmp / "o.jsonl"));
}
