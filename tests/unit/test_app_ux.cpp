// What a careful tool does (issue 18, item 6): empty input is an error, a length over the model's
// maximum is an error, an output extension that does not match the format is an error,
// --num-negatives 0 embeds nothing, --version everywhere, --device cuda without a GPU is one
// clear error.
#include <catch2/catch.hpp>

#include <algorithm>

#include "cuda/runtime.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
namespace test = sbert::test;
using Catch::Matchers::Contains;

namespace {

void one_line_error(const test::AppResult& r, int code, const std::string& app) {
  INFO("stderr: " << r.stderr_text);
  CHECK(r.exit_code == code);
  CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
  CHECK_THAT(r.stderr_text, Contains(app + ": error: "));
}

std::string tiny() { return test::fixture_dir("tiny-bert").string(); }

// A two-query BEIR folder.
fs::path small_beir(const test::TempDir& tmp) {
  const fs::path b = tmp / "beir";
  test::put(b / "corpus.jsonl",
            "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"coffee has caffeine\"}\n"
            "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"rock melts into magma\"}\n"
            "{\"_id\": \"d3\", \"title\": \"\", \"text\": \"bread rises with yeast\"}\n");
  test::put(b / "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"what is in coffee\"}\n"
                                 "{\"_id\": \"q2\", \"text\": \"where does magma come from\"}\n");
  test::put(b / "qrels/train.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
  return b;
}

}  // namespace

TEST_CASE("sbert-embed: empty input, a non-.npy output and a length over the maximum are errors",
          "[apps][errors][ux]") {
  test::TempDir tmp;
  const fs::path out = tmp / "out.npy";
  test::put(tmp / "empty.txt", "");
  test::put(tmp / "one.txt", "hello\n");

  const auto empty = test::run_app(
      "sbert-embed", {"--model", tiny(), "--input", (tmp / "empty.txt").string(), "--output",
                      out.string()});
  one_line_error(empty, 1, "sbert-embed");
  CHECK_THAT(empty.stderr_text, Contains("empty.txt: no texts (empty input)"));
  CHECK(!fs::exists(out));

  const auto csv = test::run_app("sbert-embed", {"--model", tiny(), "--input",
                                                 (tmp / "one.txt").string(), "--output",
                                                 (tmp / "out.csv").string()});
  one_line_error(csv, 2, "sbert-embed");
  CHECK_THAT(csv.stderr_text, Contains("--output must name a .npy file"));
  CHECK(!fs::exists(tmp / "out.csv"));

  const auto longer = test::run_app(
      "sbert-embed", {"--model", tiny(), "--input", (tmp / "one.txt").string(), "--output",
                      out.string(), "--max-seq-length", "1000"});
  one_line_error(longer, 1, "sbert-embed");
  CHECK_THAT(longer.stderr_text, Contains("max_seq_length 1000 is over the model's maximum of 512"));
  CHECK(!fs::exists(out));

  // The maximum itself is fine.
  const auto at_max = test::run_app(
      "sbert-embed", {"--model", tiny(), "--input", (tmp / "one.txt").string(), "--output",
                      out.string(), "--max-seq-length", "512"});
  CHECK(at_max.exit_code == 0);
  CHECK(fs::exists(out));
}

TEST_CASE("sbert-eval and sbert-mine: output extensions match the format", "[apps][errors][ux]") {
  test::TempDir tmp;
  const fs::path beir = small_beir(tmp);
  const auto eval = test::run_app("sbert-eval", {"--model", tiny(), "--beir", beir.string(),
                                                 "--split", "train", "--output",
                                                 (tmp / "m.txt").string()});
  one_line_error(eval, 2, "sbert-eval");
  CHECK_THAT(eval.stderr_text, Contains("--output must name a .json file"));
  const auto mine = test::run_app(
      "sbert-mine", {"--model", tiny(), "--beir", beir.string(), "--output",
                     (tmp / "n.json").string(), "--num-negatives", "1"});
  one_line_error(mine, 2, "sbert-mine");
  CHECK_THAT(mine.stderr_text, Contains("--output must name a .jsonl file"));
}

TEST_CASE("sbert-eval and sbert-mine refuse empty sets", "[apps][errors][ux]") {
  test::TempDir tmp;
  test::put(tmp / "e/corpus.jsonl", "");
  test::put(tmp / "e/queries.jsonl", "");
  test::put(tmp / "e/qrels/train.tsv", "query-id\tcorpus-id\tscore\n");
  const auto eval = test::run_app("sbert-eval", {"--model", tiny(), "--beir",
                                                 (tmp / "e").string(), "--split", "train"});
  one_line_error(eval, 1, "sbert-eval");
  CHECK_THAT(eval.stderr_text, Contains("train.tsv: no judgements"));
  const auto mine = test::run_app(
      "sbert-mine", {"--model", tiny(), "--beir", (tmp / "e").string(), "--output",
                     (tmp / "o.jsonl").string(), "--num-negatives", "1"});
  one_line_error(mine, 1, "sbert-mine");
  CHECK(!fs::exists(tmp / "o.jsonl"));
  test::put(tmp / "sts.tsv", "");
  const auto sts = test::run_app("sbert-eval", {"--model", tiny(), "--sts",
                                                (tmp / "sts.tsv").string()});
  one_line_error(sts, 1, "sbert-eval");
}

TEST_CASE("sbert-mine --num-negatives 0 writes the records without embedding anything",
          "[apps][ux]") {
  test::TempDir tmp;
  const fs::path beir = small_beir(tmp);
  // --device cuda fails at the first embedding: a run that succeeds embedded nothing.
  const auto r = test::run_app(
      "sbert-mine", {"--model", tiny(), "--beir", beir.string(), "--output",
                     (tmp / "o.jsonl").string(), "--num-negatives", "0", "--device", "cuda"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK(test::slurp(tmp / "o.jsonl") ==
        "{\"query\": \"what is in coffee\", \"pos_doc\": \"coffee has caffeine\", \"neg_doc\": []}\n"
        "{\"query\": \"where does magma come from\", \"pos_doc\": \"rock melts into magma\", "
        "\"neg_doc\": []}\n");
}

TEST_CASE("every app answers --version - --device cuda without a GPU is one clear error",
          "[apps][ux]") {
  for (const char* app : {"sbert-embed", "sbert-eval", "sbert-mine", "sbert-finetune",
                          "sbert-convert", "sbert-plot", "sbert-tokenize"}) {
    INFO(app);
    const auto v = test::run_app(app, {"--version"});
    CHECK(v.exit_code == 0);
    CHECK_THAT(v.stdout_text, Contains(std::string(app) + " ") && Contains("libsbert"));
  }
  for (const char* app : {"sbert-embed", "sbert-eval", "sbert-mine"}) {
    INFO(app);
    const auto h = test::run_app(app, {"--help"});
    CHECK_THAT(h.stdout_text, Contains("cpu | cuda: where the encoder runs"));
  }
  CHECK_THAT(test::run_app("sbert-finetune", {"--help"}).stdout_text,
             !Contains("--device") && Contains("--dry-run"));

  test::TempDir tmp;
  test::put(tmp / "one.txt", "hello\n");
  const auto cuda = test::run_app("sbert-embed", {"--model", tiny(), "--input",
                                                  (tmp / "one.txt").string(), "--output",
                                                  (tmp / "o.npy").string(), "--device", "cuda"});
  // This build has no CUDA (or the machine no GPU): one line saying which, nothing written.
  if (sbert::cuda::device_count() == 0) {
    one_line_error(cuda, 1, "sbert-embed");
    CHECK_THAT(cuda.stderr_text, Contains("libsbert was built without CUDA") ||
                                     Contains("CUDA device(s) are present"));
    CHECK_FALSE(std::filesystem::exists(tmp / "o.npy"));
  }
}
