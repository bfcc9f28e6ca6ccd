// XLM-RoBERTa (tiny-xlmr) and RoBERTa (tiny-roberta) through every app, as a user runs them:
// sbert-embed and sbert-tokenize against the reference fixtures, sbert-convert both ways
// (tensors and embeddings unchanged), sbert-finetune, then sbert-eval and sbert-mine on its
// checkpoint. The parity of the numbers themselves is in test_encoder_parity,
// test_backward_parity and test_train_parity.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "io/npy.h"
#include "io/safetensors.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;

namespace {

const char* const kModels[] = {"tiny-xlmr", "tiny-roberta"};

fs::path texts_jsonl() { return test::source_dir() / "tests/data/multilingual.jsonl"; }

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<float> embed(const fs::path& dir) {
  EmbedOptions opt;
  opt.threads = 2;
  return Model::load(dir).embed(test::fixture_texts("multilingual.jsonl"), opt).data;
}

}  // namespace

TEST_CASE("sbert-embed and sbert-tokenize run XLM-R and RoBERTa models",
          "[apps][parity][roberta]") {
  for (const std::string model : kModels) {
    INFO(model);
    test::TempDir tmp;
    const auto out = tmp / "emb.npy";
    const auto r = test::run_app(
        "sbert-embed", {"--model", test::fixture_dir(model).string(), "--input",
                        texts_jsonl().string(), "--output", out.string(), "--threads", "2"});
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    const auto ref = SafetensorsFile::open(test::fixture_dir(model) / "embeddings.safetensors")
                         .read_f32("embeddings");
    const float err = max_abs_diff(read_npy_f32(out).data, ref);
    std::printf("sbert-embed %s: max |err| vs sentence-transformers %.3g\n", model.c_str(),
                static_cast<double>(err));
    CHECK(err <= 1e-5f);

    const auto ids_out = tmp / "ids.jsonl";
    const auto t =
        test::run_app("sbert-tokenize", {"--model", test::fixture_dir(model).string(), "--input",
                                         texts_jsonl().string(), "--output", ids_out.string()});
    INFO(t.stderr_text);
    REQUIRE(t.exit_code == 0);
    const auto f = SafetensorsFile::open(test::fixture_dir(model) / "tokens.safetensors");
    const auto want = test::split_ids(f.read_i32("ids"), f.read_i64("offsets"));
    std::ifstream in(ids_out);
    size_t n = 0, mismatches = 0;
    for (std::string line; std::getline(in, line); ++n) {
      std::string expect = "{\"input_ids\": [";
      for (size_t i = 0; i < want.at(n).size(); ++i) {
        expect += (i ? ", " : "") + std::to_string(want[n][i]);
      }
      if (line != expect + "]}") ++mismatches;
    }
    CHECK(n == want.size());
    CHECK(mismatches == 0);
  }
}

TEST_CASE("sbert-convert round-trips XLM-R and RoBERTa folders", "[apps][convert][roberta]") {
  for (const std::string model : kModels) {
    INFO(model);
    test::TempDir tmp;
    const fs::path src = test::fixture_dir(model), ckpt = tmp / "ckpt", hf = tmp / "hf";
    const auto a =
        test::run_app("sbert-convert", {"--input", src.string(), "--output", ckpt.string()});
    INFO(a.stderr_text);
    REQUIRE(a.exit_code == 0);
    const auto b = test::run_app("sbert-convert",
                                 {"--to-hf", "--input", ckpt.string(), "--output", hf.string()});
    INFO(b.stderr_text);
    REQUIRE(b.exit_code == 0);
    CHECK(test::slurp(ckpt / "libsbert.json")
              .find(model == "tiny-xlmr" ? "\"model_type\": \"xlm-roberta\""
                                         : "\"model_type\": \"roberta\"") != std::string::npos);
    for (const char* file : {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
      CHECK(test::slurp(hf / file) == test::slurp(src / file));
    }
    const auto fa = SafetensorsFile::open(src / "model.safetensors");
    const auto fb = SafetensorsFile::open(hf / "model.safetensors");
    auto na = fa.names(), nb = fb.names();
    std::sort(na.begin(), na.end());
    std::sort(nb.begin(), nb.end());
    REQUIRE(na == nb);
    for (const std::string& n : na) {
      const auto x = fa.bytes(n), y = fb.bytes(n);
      CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    }
    CHECK(embed(hf) == embed(src));
  }
}

TEST_CASE("sbert-finetune, sbert-eval and sbert-mine run an XLM-R model", "[apps][roberta]") {
  test::TempDir tmp;
  const fs::path train = test::write_train_records(tmp.path());
  test::put(tmp / "ft.yaml",
            "restore_from_path: " + test::fixture_dir("tiny-xlmr").string() +
                "\ntrainer:\n  max_steps: 3\n  threads: 2\n  num_sanity_val_steps: 0\n"
                "model:\n  global_batch_size: 4\n  micro_batch_size: 2\n"
                "  encoder_seq_length: 48\n  data:\n    data_train: " +
                train.string() +
                "\n    hard_negatives_to_train: 1\n"
                "  optim:\n    lr: 1e-3\n    sched:\n      warmup_steps: 1\n");
  const fs::path logs = tmp / "logs";
  const auto ft =
      test::run_app("sbert-finetune", {"--config-path", tmp.path().string(), "--config-name",
                                       "ft.yaml", "exp_manager.explicit_log_dir=" + logs.string()});
  INFO(ft.stderr_text);
  REQUIRE(ft.exit_code == 0);
  const fs::path step = logs / "checkpoints" / "step-00000003";
  REQUIRE(fs::exists(step / "model.safetensors"));
  // The trained model is still an XLM-R folder and has moved.
  const Model trained = Model::load(step);
  CHECK(trained.config().model_type == "xlm-roberta");
  CHECK(embed(step) != embed(test::fixture_dir("tiny-xlmr")));

  const fs::path beir = test::write_beir_subset(tmp / "beir", 8);
  const auto ev =
      test::run_app("sbert-eval", {"--model", step.string(), "--beir", beir.string(), "--output",
                                   (tmp / "m.json").string(), "--threads", "2"});
  INFO(ev.stderr_text);
  REQUIRE(ev.exit_code == 0);
  CHECK_THAT(ev.stdout_text, Catch::Contains("ndcg@10"));
  const auto mine =
      test::run_app("sbert-mine", {"--model", step.string(), "--beir", beir.string(), "--output",
                                   (tmp / "mined.jsonl").string(), "--split", "test",
                                   "--num-negatives", "2", "--threads", "2"});
  INFO(mine.stderr_text);
  REQUIRE(mine.exit_code == 0);
  CHECK(!test::slurp(tmp / "mined.jsonl").empty());
}
