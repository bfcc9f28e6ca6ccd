// Truncated (Matryoshka) embeddings and their evaluation: EmbedOptions::truncate_dim /
// normalize as sentence-transformers' truncate_dim / normalize_embeddings, the retrieval and STS
// metrics per truncation (evaluate_*_matryoshka, sbert-eval --matryoshka) against
// sentence-transformers 6.3 (tests/fixtures/eval/st_truncate.json and
// tests/fixtures/minilm/truncated.safetensors, tools/reference/make_truncate_fixture.py), and the
// scored-pairs file form (a header naming sentence1, sentence2, score).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "eval/beir.h"
#include "eval/retrieval.h"
#include "eval/sts.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

fs::path eval_fixture(const std::string& name) { return test::fixture_dir("eval") / name; }
fs::path tiny_beir() { return test::source_dir() / "tests/data/eval/tiny-beir"; }
std::string tiny_bert() { return test::fixture_dir("tiny-bert").string(); }

std::vector<std::string> some_texts() {
  const auto all = test::fixture_texts();
  return {all[0], all[1], all[75], all[200], all[250], all[300], all[305], all[330]};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}

// The first d columns of (rows, dim) x.
std::vector<float> first_columns(const Embeddings& e, int64_t d) {
  std::vector<float> out;
  for (int64_t r = 0; r < e.rows; ++r) out.insert(out.end(), e.row(r), e.row(r) + d);
  return out;
}

}  // namespace

TEST_CASE("truncate_dim keeps the first dimensions after the model's Normalize", "[matryoshka]") {
  const Model model = Model::load(tiny_bert());  // mean pooling + Normalize, 32 dimensions
  REQUIRE(model.dim() == 32);
  const auto texts = some_texts();
  EmbedOptions full;
  full.threads = 2;
  const Embeddings e = model.embed(texts, full);
  EmbedOptions o = full;
  o.truncate_dim = 12;
  const Embeddings t = model.embed(texts, o);
  REQUIRE(t.rows == e.rows);
  REQUIRE(t.dim == 12);
  CHECK(t.data == first_columns(e, 12));  // a slice: bitwise
  // Not renormalized: the rows of a normalizing model are shorter than 1 once cut.
  double longest = 0;
  for (int64_t r = 0; r < t.rows; ++r)
    longest = std::max(longest, std::sqrt(static_cast<double>(t.dot(r, r))));
  CHECK(longest < 0.999);

  o.normalize = true;  // normalize_embeddings: after the cut
  const Embeddings n = model.embed(texts, o);
  REQUIRE(n.dim == 12);
  for (int64_t r = 0; r < n.rows; ++r) {
    const double len = std::sqrt(static_cast<double>(t.dot(r, r)));
    CHECK(std::sqrt(static_cast<double>(n.dot(r, r))) == Approx(1.0).margin(1e-6));
    for (int64_t j = 0; j < n.dim; ++j)
      CHECK(static_cast<double>(n.row(r)[j]) ==
            Approx(static_cast<double>(t.row(r)[j]) / len).margin(1e-6));
  }
  o.truncate_dim = 32;  // the whole dimension: the model's output as is
  o.normalize = false;
  CHECK(model.embed(texts, o).data == e.data);
  o.truncate_dim = 5;
  CHECK(model.embed(std::vector<std::string>{}, o).dim == 5);
}

TEST_CASE("truncate_dim out of range is an error naming the model's dimension", "[matryoshka]") {
  const Model model = Model::load(tiny_bert());
  EmbedOptions o;
  for (const int bad : {-1, 33}) {
    o.truncate_dim = bad;
    const std::string msg = test::error_of([&] { model.embed({"a b"}, o); });
    INFO(msg);
    CHECK_THAT(msg, Contains("[embed] truncate_dim " + std::to_string(bad)) &&
                        Contains("have 32 dimensions (1..32, or 0 for all)"));
    CHECK_THAT(test::error_of([&] { model.embed_ids({{2, 3}}, o); }), Contains("truncate_dim"));
  }
}

TEST_CASE("truncated embeddings equal sentence-transformers' encode(truncate_dim)",
          "[matryoshka][parity]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping truncate parity");
    return;
  }
  const auto ref = SafetensorsFile::open(test::fixture_dir("minilm") / "truncated.safetensors");
  const auto id_bytes = ref.bytes("text_ids");
  std::vector<int64_t> ids(id_bytes.size() / sizeof(int64_t));
  std::memcpy(ids.data(), id_bytes.data(), id_bytes.size());
  const auto all = test::fixture_texts();
  std::vector<std::string> texts;
  for (const int64_t i : ids) texts.push_back(all[static_cast<size_t>(i)]);
  const Model model = Model::load(*dir);
  for (const int d : {128, 64, 1}) {
    for (const bool norm : {false, true}) {
      const std::string name = "dim" + std::to_string(d) + (norm ? "_normalized" : "");
      EmbedOptions o;
      o.truncate_dim = d;
      o.normalize = norm;
      o.threads = 2;
      const Embeddings e = model.embed(texts, o);
      REQUIRE(e.dim == d);
      const double err = max_abs_diff(e.data, ref.read_f32(name));
      std::printf("truncate parity %s: %zu texts, max |ours - sentence-transformers| %.3g\n",
                  name.c_str(), texts.size(), err);
      INFO(name);
      CHECK(err <= 1e-6);
    }
  }
}

TEST_CASE("Matryoshka retrieval metrics equal sentence-transformers' per truncate_dim",
          "[matryoshka][parity]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping Matryoshka parity");
    return;
  }
  simdjson::dom::parser parser;
  const simdjson::dom::element ref = parser.load(eval_fixture("st_truncate.json").string());
  eval::BeirOptions lenient;
  lenient.allow_unknown_ids = true;  // as the fixture was made (see test_eval_parity.cpp)
  const auto data = eval::read_beir(eval_fixture("scifact-subset"), "test", lenient);
  const Model model = Model::load(*dir);
  eval::RetrievalOptions ro;
  ro.embed.threads = 2;
  const std::vector<int> dims{384, 256, 128, 64};
  const auto hits = eval::retrieve_dims(model, data, ro, dims);
  const auto ms = eval::evaluate_retrieval_matryoshka(model, data, dims, ro);
  REQUIRE(ms.size() == dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto st = ref["retrieval_by_dim"][std::to_string(dims[i])];
    CHECK(ms[i].dim == dims[i]);
    double worst = 0;
    for (const auto& v : ms[i].values) {
      const double want = st[v.name()].get_double().value();
      INFO("dim " << dims[i] << " " << v.name() << ": ours " << v.value << ", ST " << want);
      CHECK(std::fabs(v.value - want) <= 1e-6);
      worst = std::max(worst, std::fabs(v.value - want));
    }
    // The top 10 of every query: same documents in the same order, scores within 1e-5.
    size_t same = 0, total = 0;
    double score_diff = 0;
    simdjson::dom::object top;
    REQUIRE(st["top10"].get(top) == simdjson::SUCCESS);
    for (size_t q = 0; q < data.query_ids.size(); ++q) {
      simdjson::dom::array want;
      REQUIRE(top[data.query_ids[q]].get(want) == simdjson::SUCCESS);
      size_t j = 0;
      for (const auto pair : want) {
        const simdjson::dom::array p = pair.get_array();
        REQUIRE(j < hits[i][q].size());
        ++total;
        if (data.corpus_ids[static_cast<size_t>(hits[i][q][j].doc)] ==
            std::string_view(p.at(0).get_string()))
          ++same;
        score_diff = std::max(score_diff, std::fabs(static_cast<double>(hits[i][q][j].score) -
                                                    p.at(1).get_double().value()));
        ++j;
      }
    }
    std::printf(
        "matryoshka parity dim %d: ndcg@10 %.6f (ST %.6f), max |metric diff| %.3g, top-10 "
        "identical at %zu/%zu ranks, max |score diff| %.3g\n",
        dims[i], ms[i].get("ndcg@10"), st["ndcg@10"].get_double().value(), worst, same, total,
        score_diff);
    CHECK(same == total);
    CHECK(score_diff <= 1e-5);
  }
  // One truncation through EmbedOptions is the same search: the same numbers.
  ro.embed.truncate_dim = 128;
  const auto one = eval::evaluate_retrieval(model, data, ro);
  CHECK(one.dim == 128);
  for (size_t k = 0; k < one.values.size(); ++k)
    CHECK(one.values[k].value == ms[2].values[k].value);
}

TEST_CASE("Matryoshka STS correlations equal sentence-transformers' per truncate_dim",
          "[matryoshka][parity]") {
  // The 40 STSb dev pairs, 3 columns under a sentence1/sentence2/score header.
  const auto data = eval::read_sts(eval_fixture("stsb-dev-sample.tsv"));
  REQUIRE(data.scores.size() == 40);
  CHECK(data.sentences1[0] == "A woman posing by a pillar with a U2 sign.");
  CHECK(data.scores[0] == 4.2);
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found (run scripts/fetch-model.sh): skipping STS truncate parity");
    return;
  }
  simdjson::dom::parser parser;
  const simdjson::dom::element ref = parser.load(eval_fixture("st_truncate.json").string());
  const Model model = Model::load(*dir);
  EmbedOptions o;
  o.threads = 2;
  const auto ms = eval::evaluate_sts_matryoshka(model, data, {384, 128, 32}, o);
  REQUIRE(ms.size() == 3);
  const char* keys[] = {"full", "128", "32"};
  for (size_t i = 0; i < 3; ++i) {
    const auto st = ref["sts_dev_sample"][keys[i]];
    const double s = st["spearman"].get_double(), p = st["pearson"].get_double();
    std::printf(
        "STS truncate parity dim %lld: spearman %.12f (ST %.12f), pearson %.12f (ST %.12f)\n",
        static_cast<long long>(ms[i].dim), ms[i].spearman, s, ms[i].pearson, p);
    CHECK(std::fabs(ms[i].spearman - s) <= 1e-6);
    CHECK(std::fabs(ms[i].pearson - p) <= 1e-6);
  }
  o.truncate_dim = 128;  // EmbeddingSimilarityEvaluator(truncate_dim=128) through EmbedOptions
  const auto one = eval::evaluate_sts(model, data, o);
  CHECK(one.dim == 128);
  CHECK(one.spearman == ms[1].spearman);
  CHECK(one.pearson == ms[1].pearson);
}

TEST_CASE("Matryoshka evaluation refuses bad dimensions", "[matryoshka]") {
  const Model model = Model::load(tiny_bert());
  eval::BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const auto data = eval::read_beir(tiny_beir(), "test", lenient);
  CHECK_THAT(test::error_of([&] {
               eval::evaluate_retrieval_matryoshka(model, data, {16, 64});
             }),
             Contains("dimension 64 is out of range: the embeddings have 32 dimensions"));
  CHECK_THAT(test::error_of([&] {
               eval::evaluate_retrieval_matryoshka(model, data, {16, 0});
             }),
             Contains("matryoshka dimension 0 must be at least 1"));
  CHECK_THAT(test::error_of([&] {
               eval::evaluate_retrieval_matryoshka(model, data, {16, 8, 16});
             }),
             Contains("dimension 16 is listed twice"));
  const auto sts = eval::read_sts(test::source_dir() / "tests/data/eval/tiny-sts.tsv");
  CHECK_THAT(test::error_of([&] { eval::evaluate_sts_matryoshka(model, sts, {40}); }),
             Contains("dimension 40 is out of range"));
  // The full dimension in the list is evaluate_retrieval's result.
  const auto ms = eval::evaluate_retrieval_matryoshka(model, data, {32, 8});
  const auto full = eval::evaluate_retrieval(model, data);
  for (size_t k = 0; k < full.values.size(); ++k)
    CHECK(ms[0].values[k].value == full.values[k].value);
}

TEST_CASE("read_sts: a header names the columns in any order", "[matryoshka][eval]") {
  test::TempDir tmp;
  test::put(tmp / "a.tsv",
            "id\tScore\tsentence2\tSentence1\n"
            "7\t4.5\tA dog runs.\tThe dog is running.\n"
            "\n"
            "8\t0.5\tA cat sleeps.\tThe stock fell.\r\n");
  const auto d = eval::read_sts(tmp / "a.tsv");
  REQUIRE(d.scores.size() == 2);
  CHECK(d.sentences1[0] == "The dog is running.");
  CHECK(d.sentences2[1] == "A cat sleeps.");
  CHECK(d.scores[1] == 0.5);
  test::put(tmp / "twice.tsv", "sentence1\tsentence1\tscore\ta\tb\t1\n");
  CHECK_THAT(test::error_of([&] { eval::read_sts(tmp / "twice.tsv"); }),
             Contains("twice.tsv:1: the header names column 'sentence1' twice (columns 1 and 2)"));
  test::put(tmp / "short.tsv", "id\tsentence1\tsentence2\tscore\n1\ta\tb\t2\n2\ta\tb\n");
  CHECK_THAT(test::error_of([&] { eval::read_sts(tmp / "short.tsv"); }),
             Contains("short.tsv:3: expected 4 tab-separated columns as the header names, got 3"));
  test::put(tmp / "nan.tsv", "sentence1\tsentence2\tscore\na\tb\t1\nc\td\thigh\n");
  CHECK_THAT(test::error_of([&] { eval::read_sts(tmp / "nan.tsv"); }),
             Contains("nan.tsv:3: score \"high\" (column 3) is not a number"));
}

TEST_CASE("sbert-embed --truncate-dim and --normalize", "[matryoshka][apps]") {
  test::TempDir tmp;
  test::put(tmp / "t.txt", "A man is eating food.\nA man is riding a horse.\nA cat.\n");
  const auto embed = [&](const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> args{
        "--model",  tiny_bert(),          "--input",   (tmp / "t.txt").string(),
        "--output", (tmp / out).string(), "--threads", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_app("sbert-embed", args);
  };
  REQUIRE(embed({}, "full.npy").exit_code == 0);
  const auto r = embed({"--truncate-dim", "10"}, "t10.npy");
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("(3 x 10)"));
  const NpyF32 full = read_npy_f32(tmp / "full.npy");
  const NpyF32 t10 = read_npy_f32(tmp / "t10.npy");
  REQUIRE(t10.shape == std::vector<int64_t>{3, 10});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 10; ++j) CHECK(t10.data[i * 10 + j] == full.data[i * 32 + j]);
  REQUIRE(embed({"--truncate-dim", "10", "--normalize"}, "n10.npy").exit_code == 0);
  const NpyF32 n10 = read_npy_f32(tmp / "n10.npy");
  for (int64_t i = 0; i < 3; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < 10; ++j) {
      const auto x = static_cast<double>(n10.data[static_cast<size_t>(i * 10 + j)]);
      ss += x * x;
    }
    CHECK(std::sqrt(ss) == Approx(1.0).margin(1e-6));
  }
  const auto zero = embed({"--truncate-dim", "0"}, "z.npy");
  CHECK(zero.exit_code == 2);
  CHECK_THAT(zero.stderr_text, Contains("--truncate-dim must be at least 1, got 0"));
  const auto big = embed({"--truncate-dim", "33"}, "b.npy");
  CHECK(big.exit_code == 2);
  CHECK_THAT(big.stderr_text,
             Contains("--truncate-dim 33 is over the 32 dimensions of the model's embeddings"));
  CHECK_FALSE(fs::exists(tmp / "b.npy"));
  CHECK(embed({"--truncate-dim", "x"}, "x.npy").exit_code == 2);
}

TEST_CASE("sbert-eval --matryoshka: a column and a JSON entry per dimension",
          "[matryoshka][apps]") {
  test::TempDir tmp;
  const auto out = tmp / "m.json";
  const auto r = test::run_app(
      "sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(), "--allow-unknown-ids",
                     "--matryoshka", "32,16,4", "--output", out.string(), "--threads", "2"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stdout_text, Contains("metric \\ dim") && Contains("      32       16        4"));
  eval::BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const auto data = eval::read_beir(tiny_beir(), "test", lenient);
  const auto want =
      eval::evaluate_retrieval_matryoshka(Model::load(tiny_bert()), data, {32, 16, 4});
  simdjson::dom::parser parser;
  const simdjson::dom::element j = parser.load(out.string());
  const simdjson::dom::array dims = j["dims"].get_array();
  CHECK(dims.size() == 3);
  CHECK(j["queries"].get_int64().value() == 4);
  const char* names[] = {"32", "16", "4"};
  for (size_t i = 0; i < 3; ++i) {
    for (const auto& v : want[i].values) {
      INFO(names[i] << " " << v.name());
      CHECK(j["by_dim"][names[i]][v.name()].get_double().value() == v.value);
    }
  }
  // --sts too: spearman and pearson per dimension.
  const auto s =
      test::run_app("sbert-eval", {"--model", tiny_bert(), "--sts",
                                   (test::source_dir() / "tests/data/eval/tiny-sts.tsv").string(),
                                   "--matryoshka", "8,32", "--output", (tmp / "s.json").string()});
  INFO(s.stderr_text);
  REQUIRE(s.exit_code == 0);
  const simdjson::dom::element sj = parser.load((tmp / "s.json").string());
  CHECK(sj["by_dim"]["8"]["spearman"].is_double());
  CHECK(sj["by_dim"]["32"]["pearson"].is_double());

  for (const auto& [arg, msg] : std::vector<std::pair<std::string, std::string>>{
           {"32,x", "--matryoshka expects comma-separated integers"},
           {"32,,16", "--matryoshka expects comma-separated integers"},
           {"16,0", "--matryoshka dimensions must be at least 1, got 0"},
           {"16,8,16", "--matryoshka lists 16 twice"},
           {"64,16", "--matryoshka dimension 64 is over the 32 dimensions"}}) {
    const auto e =
        test::run_app("sbert-eval", {"--model", tiny_bert(), "--beir", tiny_beir().string(),
                                     "--allow-unknown-ids", "--matryoshka", arg});
    INFO(arg << ": " << e.stderr_text);
    CHECK(e.exit_code == 2);
    CHECK_THAT(e.stderr_text, Contains(msg));
  }
}
