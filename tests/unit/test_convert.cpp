// sbert-convert: HF folder -> libsbert checkpoint -> HF folder is bitwise for fp32 (every tensor,
// extras included) with equivalent configuration; the folders load back in libsbert with the
// same embeddings; bf16 rounds to nearest even; bad input is refused without damage.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "api/model_impl.h"
#include "core/dtype.h"
#include "core/json.h"
#include "io/convert.h"
#include "io/safetensors.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::put;
using test::slurp;
std::string json_string(const std::string& s) { return json_quote(s); }

// Compact JSON of a file (keys in file order), for "equivalent" comparisons.
std::string json_of(const fs::path& p) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  const auto err = parser.load(p.string()).get(e);
  if (err) return "<invalid JSON: " + p.string() + ">";
  return simdjson::minify(e);
}

// Every tensor of `a` is in `b` with the same dtype, shape and bytes, and b has no others.
void require_same_tensors(const fs::path& a, const fs::path& b) {
  const SafetensorsFile fa = SafetensorsFile::open(a);
  const SafetensorsFile fb = SafetensorsFile::open(b);
  auto na = fa.names(), nb = fb.names();
  std::sort(na.begin(), na.end());
  std::sort(nb.begin(), nb.end());
  REQUIRE(na == nb);
  for (const std::string& n : na) {
    INFO("tensor " << n);
    CHECK(fa.info(n).dtype_name == fb.info(n).dtype_name);
    CHECK(fa.info(n).shape == fb.info(n).shape);
    const auto ba = fa.bytes(n), bb = fb.bytes(n);
    REQUIRE(ba.size() == bb.size());
    CHECK(std::memcmp(ba.data(), bb.data(), ba.size()) == 0);
  }
}

std::set<std::string> files_under(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(fs::relative(e.path(), dir).string() + (e.is_directory() ? "/" : ""));
  }
  return out;
}

// Every 6th fixture text (56: short STS sentences and long SciFact passages): enough to
// compare models, cheap enough for the 2-core CI machine.
Embeddings embed(const fs::path& dir) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> all = test::fixture_texts(), some;
    for (size_t i = 0; i < all.size(); i += 6) some.push_back(all[i]);
    return some;
  }();
  EmbedOptions opt;
  opt.threads = 2;
  opt.batch_size = 16;
  return Model::load(dir).embed(texts, opt);
}

double max_abs_diff(const Embeddings& a, const Embeddings& b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.dim == b.dim);
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    m = std::max(m, std::fabs(static_cast<double>(a.data[i]) - static_cast<double>(b.data[i])));
  }
  return m;
}

// A tiny-bert copy without any sentence-transformers file: a plain Hugging Face BERT folder.
fs::path plain_hf_copy(const test::TempDir& tmp) {
  const fs::path dst = tmp / "plain";
  fs::create_directories(dst);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
                        "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(test::fixture_dir("tiny-bert") / f, dst / f);
  }
  return dst;
}

void round_trip(const fs::path& src) {
  test::TempDir tmp;
  const fs::path ckpt = tmp / "ckpt", hf = tmp / "hf", ckpt2 = tmp / "ckpt2", hf2 = tmp / "hf2";
  const ConvertReport r1 = convert_to_checkpoint(src, ckpt);
  const ConvertReport r2 = export_to_hf(ckpt, hf);
  CHECK(r1.sha256 == r2.sha256);  // the very same model.safetensors bytes
  CHECK(r1.sha256 == sha256_file(ckpt / "model.safetensors"));

  // Tensors: bitwise, names (prefix included), dtypes and shapes, extras too.
  require_same_tensors(src / "model.safetensors", ckpt / "model.safetensors");
  require_same_tensors(src / "model.safetensors", hf / "model.safetensors");

  // Configuration and tokenizer files: byte for byte.
  for (const char* f : {"config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
                        "special_tokens_map.json", "README.md"}) {
    if (!fs::exists(src / f)) continue;
    INFO(f);
    CHECK(slurp(src / f) == slurp(hf / f));
    CHECK(slurp(src / f) == slurp(ckpt / f));
  }
  // sentence-transformers files: the same JSON (classic layout sources).
  for (const char* f : {"modules.json", "sentence_bert_config.json", "1_Pooling/config.json"}) {
    INFO(f);
    CHECK(json_of(src / f) == json_of(hf / f));
  }
  // config_sentence_transformers.json: the source's keys kept, prompts etc. added.
  if (fs::exists(src / "config_sentence_transformers.json")) {
    simdjson::dom::parser p1, p2;
    simdjson::dom::object a = p1.load((src / "config_sentence_transformers.json").string());
    simdjson::dom::object b = p2.load((hf / "config_sentence_transformers.json").string());
    for (const auto kv : a) {
      if (kv.key == "prompts" || kv.key == "default_prompt_name") continue;
      INFO(kv.key);
      CHECK(simdjson::minify(kv.value) == simdjson::minify(b[kv.key].value()));
    }
  }
  CHECK_FALSE(fs::exists(hf / kCheckpointInfoFile));
  CHECK(fs::exists(ckpt / kCheckpointInfoFile));

  // A second round trip is a fixed point: every file byte for byte.
  convert_to_checkpoint(hf, ckpt2);
  export_to_hf(ckpt2, hf2);
  REQUIRE(files_under(hf) == files_under(hf2));
  for (const std::string& f : files_under(hf)) {
    if (f.back() == '/') continue;
    INFO(f);
    CHECK(slurp(hf / f) == slurp(hf2 / f));
  }
}

}  // namespace

TEST_CASE("convert: sha256 matches the FIPS 180-4 test vectors", "[convert]") {
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million.data(), million.size()) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  test::TempDir tmp;
  put(tmp / "m", million);
  CHECK(sha256_file(tmp / "m") == sha256_hex(million.data(), million.size()));
}

TEST_CASE("convert: HF -> libsbert -> HF is bitwise (tiny-bert, tiny-bert-cls)", "[convert]") {
  SECTION("tiny-bert") { round_trip(test::fixture_dir("tiny-bert")); }
  SECTION("tiny-bert-cls") { round_trip(test::fixture_dir("tiny-bert-cls")); }
}

TEST_CASE("convert: a \"bert.\"-prefixed checkpoint keeps its prefix", "[convert]") {
  test::TempDir tmp;
  const fs::path src = tmp / "prefixed";
  fs::copy(test::fixture_dir("tiny-bert"), src, fs::copy_options::recursive);
  {
    const SafetensorsFile f =
        SafetensorsFile::open(test::fixture_dir("tiny-bert") / "model.safetensors");
    std::vector<TensorView> views;
    for (const std::string& n : f.names()) {
      const bool encoder = n.rfind("pooler.", 0) != 0;
      views.push_back(
          {encoder ? "bert." + n : n, f.info(n).dtype, f.info(n).shape, f.bytes(n).data()});
    }
    write_safetensors(src / "model.safetensors", views, {{"format", "pt"}});
  }
  REQUIRE(Model::load(src).impl().weight_prefix == "bert.");
  round_trip(src);
  convert_to_checkpoint(src, tmp / "ckpt");
  CHECK(read_checkpoint_info(tmp / "ckpt", true).weight_prefix == "bert.");
}

TEST_CASE("convert: HF -> libsbert -> HF is bitwise (all-MiniLM-L6-v2)", "[convert][minilm]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (scripts/fetch-model.sh); skipped");
    return;
  }
  round_trip(*dir);
}

TEST_CASE("convert: the checkpoint and the export load back with the same embeddings",
          "[convert]") {
  for (const char* name : {"tiny-bert", "tiny-bert-cls", "minilm"}) {
    const auto src = test::model_dir(name);
    if (!src) {
      WARN("all-MiniLM-L6-v2 not found; skipped");
      continue;
    }
    INFO(name);
    test::TempDir tmp;
    convert_to_checkpoint(*src, tmp / "ckpt");
    export_to_hf(tmp / "ckpt", tmp / "hf");
    const Embeddings a = embed(*src), b = embed(tmp / "ckpt"), c = embed(tmp / "hf");
    CHECK(max_abs_diff(a, b) == 0.0);
    CHECK(max_abs_diff(a, c) == 0.0);
    const Model m = Model::load(tmp / "hf");
    const Model s = Model::load(*src);
    CHECK(m.config().pooling == s.config().pooling);
    CHECK(m.config().normalize == s.config().normalize);
    CHECK(m.config().max_seq_length == s.config().max_seq_length);
    CHECK(m.impl().weight_prefix == s.impl().weight_prefix);
    CHECK(m.impl().extras.size() == s.impl().extras.size());
  }
}

TEST_CASE("convert: libsbert.json records the model as libsbert read it", "[convert]") {
  test::TempDir tmp;
  ConvertOptions opt;
  opt.query_prompt = "query: ";
  opt.passage_prompt = "passage: ";
  const fs::path src = test::fixture_dir("tiny-bert-cls");
  const ConvertReport r = convert_to_checkpoint(src, tmp / "ckpt", opt);
  CHECK(is_libsbert_checkpoint(tmp / "ckpt"));
  CHECK_FALSE(is_libsbert_checkpoint(src));
  const CheckpointInfo info = read_checkpoint_info(tmp / "ckpt", /*verify_weights=*/true);
  const ModelConfig c = load_model_config(src);
  CHECK(info.version == kCheckpointVersion);
  CHECK(info.precision == DType::F32);
  CHECK(info.weights_sha256 == r.sha256);
  CHECK(info.weights_file == "model.safetensors");
  CHECK(info.config.hidden_size == c.hidden_size);
  CHECK(info.config.num_layers == c.num_layers);
  CHECK(info.config.vocab_size == c.vocab_size);
  CHECK(info.config.layer_norm_eps == c.layer_norm_eps);
  CHECK(info.config.pooling == Pooling::CLS);
  CHECK_FALSE(info.config.normalize);
  CHECK(info.config.max_seq_length == c.max_seq_length);
  CHECK(info.prompts ==
        std::map<std::string, std::string>{{"passage", "passage: "}, {"query", "query: "}});
  CHECK(info.source == fs::weakly_canonical(src).string());
  CHECK_NOTHROW(check_checkpoint_config(tmp / "ckpt", info, c));
  const std::string text = slurp(tmp / "ckpt" / kCheckpointInfoFile);
  CHECK_THAT(text, Contains("\"format\": \"libsbert-checkpoint\""));
  CHECK_THAT(text, Contains("\"pooling\": \"cls\""));
}

TEST_CASE("convert: sentence-transformers files of the export", "[convert]") {
  test::TempDir tmp;
  simdjson::dom::parser parser;
  auto module_types = [&](const fs::path& dir) {
    std::vector<std::string> types;
    simdjson::dom::array a = parser.load((dir / "modules.json").string());
    for (simdjson::dom::element m : a) types.emplace_back(std::string_view(m["type"]));
    return types;
  };
  const std::string T = "sentence_transformers.models.Transformer",
                    P = "sentence_transformers.models.Pooling",
                    N = "sentence_transformers.models.Normalize";

  SECTION("tiny-bert: mean pooling, normalize (2_Normalize created)") {
    export_to_hf(test::fixture_dir("tiny-bert"), tmp / "hf");
    CHECK(module_types(tmp / "hf") == std::vector<std::string>{T, P, N});
    CHECK(fs::is_directory(tmp / "hf" / "2_Normalize"));
    simdjson::dom::element pool = parser.load((tmp / "hf/1_Pooling/config.json").string());
    CHECK(bool(pool["pooling_mode_mean_tokens"]) == true);
    CHECK(bool(pool["pooling_mode_cls_token"]) == false);
    CHECK(int64_t(pool["word_embedding_dimension"]) == 32);
  }
  SECTION("tiny-bert-cls: CLS pooling, no Normalize") {
    export_to_hf(test::fixture_dir("tiny-bert-cls"), tmp / "hf");
    CHECK(module_types(tmp / "hf") == std::vector<std::string>{T, P});
    CHECK_FALSE(fs::exists(tmp / "hf" / "2_Normalize"));
    simdjson::dom::element pool = parser.load((tmp / "hf/1_Pooling/config.json").string());
    CHECK(bool(pool["pooling_mode_cls_token"]) == true);
    CHECK(bool(pool["pooling_mode_mean_tokens"]) == false);
    CHECK(Model::load(tmp / "hf").config().pooling == Pooling::CLS);
  }
  SECTION("a plain Hugging Face folder gets the sentence-transformers layout libsbert ran") {
    const fs::path plain = plain_hf_copy(tmp);
    const ModelConfig before = load_model_config(plain);
    export_to_hf(plain, tmp / "hf");
    CHECK(module_types(tmp / "hf") == std::vector<std::string>{T, P});
    simdjson::dom::element sb = parser.load((tmp / "hf/sentence_bert_config.json").string());
    CHECK(int64_t(sb["max_seq_length"]) == before.max_seq_length);
    CHECK(bool(sb["do_lower_case"]) == false);
    const ModelConfig after = load_model_config(tmp / "hf");
    CHECK(after.pooling == before.pooling);
    CHECK(after.normalize == before.normalize);
    CHECK(after.max_seq_length == before.max_seq_length);
    CHECK(max_abs_diff(embed(plain), embed(tmp / "hf")) == 0.0);
  }
  SECTION("config_sentence_transformers.json: prompts, default_prompt_name, similarity") {
    ConvertOptions opt;
    opt.query_prompt = "query: ";
    opt.passage_prompt = "passage: ";
    convert_to_checkpoint(test::fixture_dir("tiny-bert"), tmp / "ckpt", opt);
    export_to_hf(tmp / "ckpt", tmp / "hf");  // prompts carried from libsbert.json
    simdjson::dom::element st =
        parser.load((tmp / "hf/config_sentence_transformers.json").string());
    CHECK(std::string_view(st["prompts"]["query"]) == "query: ");
    CHECK(std::string_view(st["prompts"]["passage"]) == "passage: ");
    CHECK(st["default_prompt_name"].is_null());
    CHECK(std::string_view(st["similarity_fn_name"]) == "cosine");
    // Options at export override what the checkpoint holds.
    ConvertOptions other;
    other.query_prompt = "Represent this query: ";
    export_to_hf(tmp / "ckpt", tmp / "hf2", other);
    simdjson::dom::parser p2;
    simdjson::dom::element st2 = p2.load((tmp / "hf2/config_sentence_transformers.json").string());
    CHECK(std::string_view(st2["prompts"]["query"]) == "Represent this query: ");
    CHECK(std::string_view(st2["prompts"]["passage"]) == "passage: ");
  }
}

TEST_CASE("convert: bf16 rounds to nearest even and loads back as fp32", "[convert]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  ConvertOptions opt;
  opt.precision = DType::BF16;
  convert_to_checkpoint(src, tmp / "ckpt", opt);
  CHECK(read_checkpoint_info(tmp / "ckpt", true).precision == DType::BF16);

  const Model source = Model::load(src);
  const Model::Impl& si = source.impl();
  const SafetensorsFile f = SafetensorsFile::open(tmp / "ckpt" / "model.safetensors");
  double worst_rel = 0;
  int64_t not_rne = 0, not_nearest = 0;
  for (const ParamSpec& s : si.layout.specs) {
    const std::string name = si.weight_prefix + s.name;
    INFO(name);
    REQUIRE(f.info(name).dtype == DType::BF16);
    const auto bytes = f.bytes(name);
    REQUIRE(bytes.size() == static_cast<size_t>(s.numel) * 2);
    for (int64_t i = 0; i < s.numel; ++i) {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      const double x = si.weights[static_cast<size_t>(s.offset + i)];
      if (h != f32_to_bf16(si.weights[static_cast<size_t>(s.offset + i)])) ++not_rne;
      // Nearest: neither neighbouring bf16 value is closer.
      auto dist = [&](uint16_t b) {
        const double v = bf16_to_f32(b);
        return std::isnan(v) ? std::numeric_limits<double>::infinity() : std::fabs(v - x);
      };
      const double err = dist(h);
      const double up = dist(static_cast<uint16_t>(h + 1));
      const double down = dist(static_cast<uint16_t>(h - 1));
      if (err > up || err > down) ++not_nearest;
      if (x != 0) worst_rel = std::max(worst_rel, err / std::fabs(x));
    }
  }
  CHECK(not_rne == 0);
  CHECK(not_nearest == 0);
  CHECK(worst_rel <= std::ldexp(1.0, -8));
  // Extras (tensors the encoder does not use) are kept byte for byte.
  for (const ExtraTensor& e : si.extras) {
    const auto b = f.bytes(e.name);
    REQUIRE(b.size() == e.bytes.size());
    CHECK(std::memcmp(b.data(), e.bytes.data(), b.size()) == 0);
  }

  // Loading converts to fp32: exactly the bf16 values.
  const Model loaded = Model::load(tmp / "ckpt");
  std::vector<float> expected(si.weights.size());
  for (size_t i = 0; i < si.weights.size(); ++i) {
    expected[i] = bf16_to_f32(f32_to_bf16(si.weights[i]));
  }
  CHECK(loaded.impl().weights == expected);
  const double emb_err = max_abs_diff(embed(src), embed(tmp / "ckpt"));
  INFO("bf16 embedding max abs error " << emb_err);
  CHECK(emb_err > 0);
  CHECK(emb_err < 2e-2);

  // The fp32 export of a bf16 checkpoint holds the bf16 values exactly.
  export_to_hf(tmp / "ckpt", tmp / "hf");
  const Model hf = Model::load(tmp / "hf");
  CHECK(SafetensorsFile::open(tmp / "hf" / "model.safetensors")
            .info(si.weight_prefix + si.layout.specs[0].name)
            .dtype == DType::F32);
  CHECK(hf.impl().weights == loaded.impl().weights);
}

TEST_CASE("convert: a damaged or edited checkpoint is refused", "[convert][errors]") {
  test::TempDir tmp;
  const fs::path ckpt = tmp / "ckpt";
  convert_to_checkpoint(test::fixture_dir("tiny-bert"), ckpt);

  SECTION("weights changed after conversion") {
    std::string w = slurp(ckpt / "model.safetensors");
    w[w.size() - 1] = static_cast<char>(w[w.size() - 1] ^ 1);
    put(ckpt / "model.safetensors", w);
    CHECK_THROWS_WITH(export_to_hf(ckpt, tmp / "hf"), Contains("does not match libsbert.json"));
    CHECK_FALSE(fs::exists(tmp / "hf"));
  }
  SECTION("a newer version") {
    std::string j = slurp(ckpt / kCheckpointInfoFile);
    j.replace(j.find("\"version\": 1"), 12, "\"version\": 7");
    put(ckpt / kCheckpointInfoFile, j);
    CHECK_THROWS_WITH(export_to_hf(ckpt, tmp / "hf"), Contains("version 7 is not supported"));
  }
  SECTION("config edited after conversion") {
    std::string j = slurp(ckpt / "sentence_bert_config.json");
    j.replace(j.find("128"), 3, "100");
    put(ckpt / "sentence_bert_config.json", j);
    CHECK_THROWS_WITH(export_to_hf(ckpt, tmp / "hf"),
                      Contains("max_seq_length is 128 but the folder's files say 100"));
  }
  SECTION("not JSON") {
    put(ckpt / kCheckpointInfoFile, "{");
    CHECK_THROWS_WITH(export_to_hf(ckpt, tmp / "hf"), Contains("not valid JSON"));
  }
}

TEST_CASE("sbert-convert: round trip through the app", "[convert][apps]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  auto r = test::run_app("sbert-convert", {"--input", src.string(), "--output",
                                           (tmp / "ckpt").string(), "--query-prompt", "query: "});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("libsbert checkpoint, fp32"));
  CHECK_THAT(r.stderr_text, Contains("query=\"query: \""));
  r = test::run_app("sbert-convert", {"--to-hf", "--input", (tmp / "ckpt").string(), "--output",
                                      (tmp / "hf").string()});
  REQUIRE(r.exit_code == 0);
  require_same_tensors(src / "model.safetensors", tmp / "hf" / "model.safetensors");
  r = test::run_app("sbert-convert", {"--input", src.string(), "--output", (tmp / "bf").string(),
                                      "--precision", "bf16"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("bf16"));
  // A trailing slash names the same folder (the temporary is its sibling, not inside it).
  r = test::run_app("sbert-convert", {"--to-hf", "--input", (tmp / "ckpt").string(), "--output",
                                      (tmp / "slash").string() + "/"});
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(tmp / "slash" / "model.safetensors"));
  CHECK(files_under(tmp / "slash") == files_under(tmp / "hf"));
  // Replacing an existing model folder is allowed and atomic.
  r = test::run_app("sbert-convert", {"--to-hf", "--input", (tmp / "bf").string(), "--output",
                                      (tmp / "hf").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(SafetensorsFile::open(tmp / "hf" / "model.safetensors")
            .info("embeddings.word_embeddings.weight")
            .dtype == DType::F32);
}

TEST_CASE("sbert-convert: bad input is refused in one line, nothing damaged",
          "[convert][apps][errors]") {
  test::TempDir tmp;
  const fs::path src = test::fixture_dir("tiny-bert");
  // An existing output model folder that a failed conversion must leave untouched.
  const fs::path out = tmp / "out";
  convert_to_checkpoint(src, out);
  const std::string before = slurp(out / kCheckpointInfoFile);
  auto expect = [&](std::vector<std::string> args, int code, const std::string& what) {
    const auto r = test::run_app("sbert-convert", args);
    INFO("stderr: " << r.stderr_text);
    CHECK(r.exit_code == code);
    CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
    CHECK_THAT(r.stderr_text, Contains("sbert-convert: error: "));
    CHECK_THAT(r.stderr_text, Contains(what));
    CHECK(slurp(out / kCheckpointInfoFile) == before);
    for (const auto& e : fs::directory_iterator(tmp.path())) {
      CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
    }
  };
  fs::create_directories(tmp / "notmodel");
  put(tmp / "notmodel" / "notes.txt", "hello");
  fs::create_directories(tmp / "nojson");
  fs::copy_file(src / "model.safetensors", tmp / "nojson" / "model.safetensors");

  expect({"--input", (tmp / "missing").string(), "--output", out.string()}, 1, "no such folder");
  expect({"--input", (tmp / "notmodel").string(), "--output", out.string()}, 1,
         "not a model folder");
  expect({"--input", (tmp / "nojson").string(), "--output", out.string()}, 1, "config.json");
  expect({"--input", src.string(), "--output", out.string(), "--precision", "fp8"}, 2,
         "unknown --precision 'fp8' (expected 32 or bf16)");
  expect({"--input", src.string()}, 2, "missing required option --output");
  expect({"--input", src.string(), "--output", out.string(), "--bogus"}, 2, "unknown option");
  expect({"--input", out.string(), "--output", out.string()}, 1, "the output is the input");
  // An output that exists and is not a model folder is never replaced.
  expect({"--input", src.string(), "--output", (tmp / "notmodel").string()}, 1,
         "exists and is not a model folder");
  CHECK(slurp(tmp / "notmodel" / "notes.txt") == "hello");
  // The output must not hold the input.
  fs::create_directories(tmp / "outer");
  fs::copy(src, tmp / "outer" / "model", fs::copy_options::recursive);
  put(tmp / "outer" / "config.json", "{}");
  expect({"--input", (tmp / "outer" / "model").string(), "--output", (tmp / "outer").string()}, 1,
         "holds the input");
}

TEST_CASE("sbert-convert: an sbert-finetune checkpoint converts", "[convert][finetune]") {
  test::TempDir tmp;
  // Three steps of tiny-bert on the fixture sentences.
  const auto texts = test::fixture_texts();
  std::string jsonl;
  for (size_t i = 0; i < 16; ++i) {
    jsonl += "{\"query\": ";
    jsonl += json_string(texts[2 * i]);
    jsonl += ", \"pos_doc\": ";
    jsonl += json_string(texts[2 * i + 1]);
    jsonl += ", \"neg_doc\": [";
    jsonl += json_string(texts[(2 * i + 40) % 200]);
    jsonl += "]}\n";
  }
  put(tmp / "train.jsonl", jsonl);
  put(tmp / "ft.yaml", "restore_from_path: " + test::fixture_dir("tiny-bert").string() +
                           "\ntrainer:\n  max_steps: 3\n  threads: 2\n  num_sanity_val_steps: 0\n"
                           "model:\n  global_batch_size: 4\n  micro_batch_size: 4\n"
                           "  encoder_seq_length: 32\n  data:\n    data_train: " +
                           (tmp / "train.jsonl").string() +
                           "\n    hard_negatives_to_train: 1\n"
                           "  optim:\n    sched:\n      warmup_steps: 1\n");
  const fs::path logs = tmp / "logs";
  const auto ft =
      test::run_app("sbert-finetune", {"--config-path", tmp.path().string(), "--config-name",
                                       "ft.yaml", "exp_manager.explicit_log_dir=" + logs.string()});
  INFO(ft.stderr_text);
  REQUIRE(ft.exit_code == 0);
  const fs::path step = logs / "checkpoints" / "step-00000003";
  REQUIRE(fs::exists(step / "trainer_state.json"));

  // The log folder names its newest checkpoint.
  const auto r = test::run_app(
      "sbert-convert", {"--to-hf", "--input", logs.string(), "--output", (tmp / "hf").string()});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  for (const char* f :
       {"optimizer.safetensors", "trainer_state.json", "config.yaml", "libsbert.json"}) {
    CHECK_FALSE(fs::exists(tmp / "hf" / f));
  }
  require_same_tensors(step / "model.safetensors", tmp / "hf" / "model.safetensors");
  CHECK(max_abs_diff(embed(step), embed(tmp / "hf")) == 0.0);
  CHECK(max_abs_diff(embed(test::fixture_dir("tiny-bert")), embed(tmp / "hf")) > 0.0);
  // Trained with "query: " / "passage: " prefixes (add_prefix, the default): those are the
  // model's prompts "query" and "document".
  simdjson::dom::parser parser;
  simdjson::dom::element st = parser.load((tmp / "hf/config_sentence_transformers.json").string());
  CHECK(std::string_view(st["prompts"]["query"]) == "query: ");
  CHECK(std::string_view(st["prompts"]["document"]) == "passage: ");
  CHECK(st["prompts"].get_object().size() == 2);

  // And into a libsbert checkpoint, bf16.
  ConvertOptions opt;
  opt.precision = DType::BF16;
  convert_to_checkpoint(step, tmp / "ckpt", opt);
  CHECK_FALSE(fs::exists(tmp / "ckpt" / "optimizer.safetensors"));
  CHECK(read_checkpoint_info(tmp / "ckpt", true).prompts.at("query") == "query: ");
}
