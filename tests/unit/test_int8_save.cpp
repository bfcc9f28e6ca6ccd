// Saved int8 weights (sbert-convert --quantize int8, docs/quantization.md): the checkpoint holds
// the encoder's linear weights as I8 with F32 scales; loading it runs int8 with exactly the
// weights that quantizing at load gives (same embeddings, bit for bit); it re-saves unchanged;
// what cannot take int8 (Hugging Face export, fp32 conversion, training) refuses it naming the
// file; damaged int8 tensors are refused at load naming the tensor.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "api/model_impl.h"
#include "core/dtype.h"
#include "io/convert.h"
#include "io/safetensors.h"
#include "sbert/convert.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "support/train_refusal.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const std::vector<std::string> kTexts = {"a short query", "hello world",
                                         "int8 weights keep the embedding close to fp32",
                                         "the quick brown fox jumps over the lazy dog"};

Embeddings embed(const Model& m) {
  EmbedOptions opt;
  opt.threads = 2;
  return m.embed(kTexts, opt);
}

fs::path int8_checkpoint(const fs::path& src, const fs::path& out) {
  ConvertOptions opt;
  opt.precision = DType::I8;
  convert_to_checkpoint(src, out, opt);
  return out;
}

// A copy of folder `from` whose model.safetensors is rewritten by edit(tensors), for damage.
struct Tensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
template <class Edit>
fs::path damaged_copy(const fs::path& from, const fs::path& to, Edit edit) {
  fs::copy(from, to, fs::copy_options::recursive);
  fs::remove(to / kCheckpointInfoFile);  // a plain model folder: no sha256 to trip first
  const SafetensorsFile f = SafetensorsFile::open(from / "model.safetensors");
  std::vector<Tensor> tensors;
  for (const std::string& n : f.names()) {
    const auto b = f.bytes(n);
    tensors.push_back({n, f.info(n).dtype, f.info(n).shape, {b.begin(), b.end()}});
  }
  edit(tensors);
  std::vector<TensorView> views;
  for (const Tensor& t : tensors) views.push_back({t.name, t.dtype, t.shape, t.bytes.data()});
  write_safetensors(to / "model.safetensors", views, {{"format", "pt"}});
  return to;
}

Tensor& find(std::vector<Tensor>& ts, const std::string& name) {
  for (Tensor& t : ts) {
    if (t.name == name) return t;
  }
  FAIL("no tensor " << name);
  return ts.front();
}

const std::string kQuery = "encoder.layer.0.attention.self.query.weight";

}  // namespace

TEST_CASE("int8 checkpoint: the weights and embeddings of --quantize int8 at load, bit for bit",
          "[int8][convert]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  const fs::path ckpt = int8_checkpoint(src, tmp / "int8");
  CHECK(read_checkpoint_info(ckpt, true).precision == DType::I8);

  const Model fp32 = Model::load(src);
  const ModelConfig& cfg = fp32.impl().config;
  const SafetensorsFile f = SafetensorsFile::open(ckpt / "model.safetensors");
  int64_t int8_tensors = 0;
  for (const ParamSpec& s : fp32.impl().layout.specs) {
    const std::string name = fp32.impl().weight_prefix + s.name;
    INFO(name);
    if (is_int8_param(cfg, s.name)) {
      ++int8_tensors;
      CHECK(f.info(name).dtype == DType::I8);
      CHECK(f.info(name + "_scale").dtype == DType::F32);
      CHECK(f.info(name + "_scale").shape == std::vector<int64_t>{s.shape[0]});
    } else {
      CHECK(f.info(name).dtype == DType::F32);
    }
  }
  CHECK(int8_tensors == 6 * cfg.num_layers);
  CHECK(fs::file_size(ckpt / "model.safetensors") < fs::file_size(src / "model.safetensors"));

  LoadOptions lo;
  lo.quantize = Quantize::Int8;
  const Model at_load = Model::load(src, lo);
  const Model saved = Model::load(ckpt);
  CHECK(saved.quantization() == Quantize::Int8);
  // The same int8 weights as quantizing at load, and fp32 weights that are their dequantized
  // values (the fp32 parts, embeddings and LayerNorm, unchanged).
  const auto& a = at_load.impl().int8->layers;
  const auto& b = saved.impl().int8->layers;
  REQUIRE(a.size() == b.size());
  for (size_t l = 0; l < a.size(); ++l) {
    CHECK(a[l].qkv.q == b[l].qkv.q);
    CHECK(a[l].qkv.scale == b[l].qkv.scale);
    CHECK(a[l].ffn_out.q == b[l].ffn_out.q);
    CHECK(a[l].ffn_out.scale == b[l].ffn_out.scale);
  }
  const BertLayerView& w = saved.impl().view.layers[0];
  const cpu::QWeight& qkv = b[0].qkv;
  for (int64_t i = 0; i < qkv.n * qkv.k; i += 7) {
    CHECK(w.qkv_w[i] == qkv.scale[static_cast<size_t>(i / qkv.k)] *
                            static_cast<float>(qkv.q[static_cast<size_t>(i)]));
  }
  CHECK(saved.impl().view.word_emb[5] == fp32.impl().view.word_emb[5]);

  const Embeddings e_at_load = embed(at_load), e_saved = embed(saved);
  CHECK(e_saved.data == e_at_load.data);
  // An int8 embed call on the saved model is the same (it is int8 whatever the options say).
  EmbedOptions opt;
  opt.threads = 2;
  opt.quantize = Quantize::Int8;
  CHECK(saved.embed(kTexts, opt).data == e_saved.data);

  // An int8 checkpoint re-saved as int8 keeps its tensors bit for bit (never requantized).
  const fs::path again = int8_checkpoint(ckpt, tmp / "again");
  const SafetensorsFile g = SafetensorsFile::open(again / "model.safetensors");
  REQUIRE(g.names() == f.names());
  for (const std::string& n : f.names()) {
    INFO(n);
    const auto x = f.bytes(n), y = g.bytes(n);
    REQUIRE(x.size() == y.size());
    CHECK(std::memcmp(x.data(), y.data(), x.size()) == 0);
  }
}

TEST_CASE("int8 checkpoint: MiniLM keeps its embeddings within the int8 bound",
          "[int8][convert][minilm]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found: skipped");
    return;
  }
  const fs::path src = *dir;
  test::TempDir tmp;
  const fs::path ckpt = int8_checkpoint(src, tmp / "int8");
  const Model fp32 = Model::load(src), saved = Model::load(ckpt);
  const Embeddings a = embed(fp32), b = embed(saved);
  double worst = 1;
  for (int64_t r = 0; r < a.rows; ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t j = 0; j < a.dim; ++j) {
      const double x = a.data[static_cast<size_t>(r * a.dim + j)];
      const double y = b.data[static_cast<size_t>(r * b.dim + j)];
      dot += x * y, na += x * x, nb += y * y;
    }
    worst = std::min(worst, dot / std::sqrt(na * nb));
  }
  INFO("min cosine int8 checkpoint vs fp32: " << worst);
  CHECK(worst >= 0.99);
  // The linear weights are about 40% of MiniLM's parameters; the file shrinks by about 30%.
  CHECK(fs::file_size(ckpt / "model.safetensors") <
        fs::file_size(src / "model.safetensors") * 3 / 4);
}

TEST_CASE("int8 checkpoint: export, fp32 conversion and training refuse it naming it",
          "[int8][convert][errors]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  const fs::path ckpt = int8_checkpoint(src, tmp / "int8");
  CHECK_THROWS_WITH(export_to_hf(ckpt, tmp / "hf"),
                    Contains(ckpt.string()) && Contains("holds int8 weights"));
  CHECK_THROWS_WITH(convert_to_checkpoint(ckpt, tmp / "fp32"), Contains("holds int8 weights"));
  ConvertOptions hf8;
  hf8.precision = DType::I8;
  CHECK_THROWS_WITH(export_to_hf(src, tmp / "hf8", hf8),
                    Contains("precision must be fp32 or bf16 for a Hugging Face folder"));
  CHECK_FALSE(fs::exists(tmp / "hf"));
  CHECK_FALSE(fs::exists(tmp / "fp32"));

  CHECK_THAT(test::trainer_error(test::refusal_options(tmp / "log", ckpt)),
             Contains("holds int8 weights") && Contains("for inference only"));
}

TEST_CASE("int8 checkpoint: damaged int8 tensors are refused at load naming the tensor",
          "[int8][errors]") {
  test::TempDir tmp;
  const fs::path ckpt = int8_checkpoint(test::fixture_dir("tiny-bert"), tmp / "int8");
  int n = 0;
  auto expect = [&](const std::string& what, auto edit) {
    INFO(what);
    const fs::path dir = damaged_copy(ckpt, tmp / ("bad" + std::to_string(n++)), edit);
    CHECK_THROWS_WITH(Model::load(dir), Contains((dir / "model.safetensors").string()) &&
                                            Contains(what));
  };
  expect(kQuery + "_scale' are missing", [](std::vector<Tensor>& ts) {
    std::erase_if(ts, [](const Tensor& t) { return t.name == kQuery + "_scale"; });
  });
  expect("has shape", [](std::vector<Tensor>& ts) {
    Tensor& s = find(ts, kQuery + "_scale");
    s.shape = {s.shape[0] - 1};
    s.bytes.resize(s.bytes.size() - 4);
  });
  for (const float bad : {-1.0f, std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity()}) {
    expect("a scale is finite and >= 0", [bad](std::vector<Tensor>& ts) {
      std::memcpy(find(ts, kQuery + "_scale").bytes.data() + 4, &bad, 4);
    });
  }
  expect("only the encoder's linear weights can be stored int8", [](std::vector<Tensor>& ts) {
    Tensor& t = find(ts, "embeddings.LayerNorm.weight");
    t.dtype = DType::I8;
    t.bytes.resize(t.bytes.size() / 4);
  });
  expect("is not int8 while other linear weights are", [](std::vector<Tensor>& ts) {
    Tensor& t = find(ts, "encoder.layer.1.output.dense.weight");
    std::vector<uint8_t> f32(t.bytes.size() * 4);
    for (size_t i = 0; i < t.bytes.size(); ++i) {
      const float v = static_cast<int8_t>(t.bytes[i]);
      std::memcpy(f32.data() + 4 * i, &v, 4);
    }
    t.dtype = DType::F32;
    t.bytes = f32;
  });
}

TEST_CASE("sbert-convert --quantize int8: the app writes it, bad combinations are usage errors",
          "[int8][convert][apps]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  auto r = test::run_app("sbert-convert", {"--input", src.string(), "--output",
                                           (tmp / "q").string(), "--quantize", "int8"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("libsbert checkpoint, int8"));
  CHECK(Model::load(tmp / "q").quantization() == Quantize::Int8);
  for (const auto& [args, what] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--quantize", "int4"}, "unknown --quantize 'int4' (expected int8)"},
           {{"--quantize", "int8", "--precision", "bf16"}, "drop --precision bf16"},
           {{"--quantize", "int8", "--to-hf"}, "Hugging Face folders are fp32 or bf16"}}) {
    std::vector<std::string> argv = {"--input", src.string(), "--output", (tmp / "x").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    r = test::run_app("sbert-convert", argv);
    INFO(r.stderr_text);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.stderr_text, Contains(what));
  }
  CHECK_FALSE(fs::exists(tmp / "x"));
  // The int8 model embeds through the app as --quantize int8 of the source does.
  const fs::path texts = tmp / "t.txt";
  test::put(texts, "hello world\na short query\n");
  r = test::run_app("sbert-embed", {"--model", (tmp / "q").string(), "--input", texts.string(),
                                    "--output", (tmp / "a.npy").string()});
  REQUIRE(r.exit_code == 0);
  r = test::run_app("sbert-embed", {"--model", src.string(), "--input", texts.string(), "--output",
                                    (tmp / "b.npy").string(), "--quantize", "int8"});
  REQUIRE(r.exit_code == 0);
  CHECK(test::slurp(tmp / "a.npy") == test::slurp(tmp / "b.npy"));
}
