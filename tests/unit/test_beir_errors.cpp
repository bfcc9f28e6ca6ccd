// Bad BEIR folders, through the one reader (eval/beir.h) and through both apps that read it:
// missing files, qrels naming unknown ids, an empty corpus, no query to evaluate or mine, bad
// JSON. The library throws one line naming the file (and line); sbert-eval and sbert-mine exit 1
// with that one line and write nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "eval/beir.h"
#include "mine/mine.h"
#include "sbert/error.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::error_of;

using test::put;

// A valid folder: two documents, two queries, one positive judgement each.
void write_good(const fs::path& dir) {
  put(dir / "corpus.jsonl",
      "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"A cat sleeps on the mat.\"}\n"
      "{\"_id\": \"d2\", \"title\": \"Dogs\", \"text\": \"The dog chased the ball.\"}\n"
      "{\"_id\": \"d3\", \"title\": \"Rain\", \"text\": \"Heavy rain flooded the street.\"}\n");
  put(dir / "queries.jsonl",
      "{\"_id\": \"q1\", \"text\": \"Where does the cat sleep?\"}\n"
      "{\"_id\": \"q2\", \"text\": \"What did the dog chase?\"}\n");
  put(dir / "qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
}

struct Case {
  const char* name;
  std::function<void(const fs::path&)> damage;
  std::string eval_error, mine_error;  // what each names (the same unless the rule differs)
};

}  // namespace

TEST_CASE("bad BEIR folders: one error naming file and line, from the library and both apps",
          "[eval][mine][apps]") {
  const std::vector<Case> cases = {
      {"missing corpus", [](const fs::path& d) { fs::remove(d / "corpus.jsonl"); },
       "corpus.jsonl: no such file", ""},
      {"missing queries", [](const fs::path& d) { fs::remove(d / "queries.jsonl"); },
       "queries.jsonl: no such file", ""},
      {"missing qrels split", [](const fs::path& d) { fs::remove(d / "qrels/test.tsv"); },
       "qrels/test.tsv: no such file (splits here: none)", ""},
      {"unknown document",
       [](const fs::path& d) { put(d / "qrels/test.tsv", "q1\td1\t1\nq2\td9\t1\n"); },
       "qrels/test.tsv:2: corpus-id \"d9\" is not in corpus.jsonl", ""},
      {"unknown document, not relevant",
       [](const fs::path& d) {
         put(d / "qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td9\t0\n");
       },
       "qrels/test.tsv:3: corpus-id \"d9\" is not in corpus.jsonl", ""},
      {"unknown query",
       [](const fs::path& d) {
         put(d / "qrels/test.tsv", "query-id\tcorpus-id\tscore\r\nq7\td1\t1\r\n");
       },
       "qrels/test.tsv:2: query-id \"q7\" is not in queries.jsonl", ""},
      {"empty corpus", [](const fs::path& d) { put(d / "corpus.jsonl", "\n"); },
       "corpus.jsonl: no documents", ""},
      {"empty qrels",
       [](const fs::path& d) { put(d / "qrels/test.tsv", "query-id\tcorpus-id\tscore\n"); },
       "qrels/test.tsv: no judgements", ""},
      {"no relevant judgement",
       [](const fs::path& d) { put(d / "qrels/test.tsv", "q1\td1\t0\nq2\td2\t0\n"); },
       "qrels/test.tsv: no query of queries.jsonl has a relevant document",
       "qrels/test.tsv: no positive judgements"},
      {"bad JSON",
       [](const fs::path& d) {
         put(d / "corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \n");
       },
       "corpus.jsonl:2: not valid JSON", ""},
  };
  const std::string model = test::fixture_dir("tiny-bert").string();
  const Model tiny = Model::load(model);
  for (const Case& c : cases) {
    SECTION(c.name) {
      test::TempDir tmp;
      const fs::path dir = tmp / "beir";
      write_good(dir);
      REQUIRE(eval::read_beir(dir, "test").query_ids.size() == 2);
      c.damage(dir);
      const std::string mine_error = c.mine_error.empty() ? c.eval_error : c.mine_error;

      // The library.
      CHECK_THAT(error_of([&] { eval::read_beir(dir, "test"); }), Contains(c.eval_error));
      mine::MineOptions mo;
      mo.split = "test";
      mo.select.num_negatives = 1;
      CHECK_THAT(error_of([&] { mine::mine_beir(tiny, dir, tmp / "lib.jsonl", mo); }),
                 Contains(mine_error));
      CHECK(!fs::exists(tmp / "lib.jsonl"));

      // The apps: exit 1, one line, nothing written.
      const fs::path out = tmp / "out";
      auto e = test::run_app("sbert-eval", {"--model", model, "--beir", dir.string(), "--split",
                                            "test", "--output", out.string()});
      INFO("sbert-eval: " << e.stderr_text);
      CHECK(e.exit_code == 1);
      CHECK_THAT(e.stderr_text, Contains("sbert-eval: error: [beir] "));
      CHECK_THAT(e.stderr_text, Contains(c.eval_error));
      CHECK(std::count(e.stderr_text.begin(), e.stderr_text.end(), '\n') == 1);
      auto m =
          test::run_app("sbert-mine", {"--model", model, "--beir", dir.string(), "--split", "test",
                                       "--output", out.string(), "--num-negatives", "1"});
      INFO("sbert-mine: " << m.stderr_text);
      CHECK(m.exit_code == 1);
      CHECK_THAT(m.stderr_text, Contains(mine_error));
      CHECK(std::count(m.stderr_text.begin(), m.stderr_text.end(), '\n') == 1);
      CHECK(!fs::exists(out));
    }
  }
}

TEST_CASE("sbert-eval with --allow-unknown-ids counts unknown ids as sentence-transformers",
          "[eval][apps]") {
  test::TempDir tmp;
  const fs::path dir = tmp / "beir";
  write_good(dir);
  put(dir / "qrels/test.tsv", "q1\td1\t1\nq1\td9\t1\nq7\td2\t1\nq2\td2\t1\n");
  const fs::path out = tmp / "m.json";
  const auto r = test::run_app(
      "sbert-eval", {"--model", test::fixture_dir("tiny-bert").string(), "--beir", dir.string(),
                     "--split", "test", "--output", out.string(), "--allow-unknown-ids"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("1 relevant judgements name documents absent"));
  CHECK_THAT(r.stderr_text, Contains("1 judgements name queries absent"));
  std::ifstream in(out, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string json = ss.str();
  CHECK_THAT(json, Contains("\"qrels_unknown_doc\": 1"));
  CHECK_THAT(json, Contains("\"qrels_unknown_query\": 1"));
  // q1 has one of its two relevant documents in the corpus: recall@100 = (1/2 + 1) / 2.
  CHECK_THAT(json, Contains("\"recall@100\": 0.75"));
}
