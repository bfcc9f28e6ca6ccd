// BEIR folder and STS file readers: what is kept, what is skipped, and errors naming file:line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <functional>

#include "eval/beir.h"
#include "eval/sts.h"
#include "sbert/error.h"
#include "support/fixtures.h"

using namespace sbert;
using namespace sbert::eval;

namespace {

using test::error_of;

using test::put;

const char* kCorpus =
    "\xEF\xBB\xBF{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"one\"}\n"
    "{\"_id\": \"d2\", \"text\": \"  two \"}\r\n"
    "\n"
    "{\"_id\": 3, \"title\": null, \"text\": \"three\"}\n"
    "{\"_id\": \"d4\", \"title\": \"Only title \", \"text\": \"\"}\n";
const char* kQueries =
    "{\"_id\": \"q1\", \"text\": \"first\", \"metadata\": {}}\n"
    "{\"_id\": \"q2\", \"text\": \"second\"}\n"
    "{\"_id\": \"q3\", \"text\": \"third\"}\n"
    "{\"_id\": \"q4\", \"text\": \"fourth\"}\n";

void write_beir(const test::TempDir& tmp, const std::string& qrels) {
  put(tmp / "corpus.jsonl", kCorpus);
  put(tmp / "queries.jsonl", kQueries);
  put(tmp / "qrels/test.tsv", qrels);
}

}  // namespace

TEST_CASE("BEIR folder: texts, relevance, skipped queries, unknown ids allowed", "[eval]") {
  test::TempDir tmp;
  write_beir(tmp,
             "query-id\tcorpus-id\tscore\r\n"
             "q1\td1\t1\r\n"
             "q1\t3\t2\r\n"
             "q2\td2\t0\r\n"  // not relevant: q2 has no relevant document -> skipped
             "q3\td4\t1\r\n"
             "q3\tmissing\t1\r\n"  // not in the corpus: counts, never retrieved
             "q3\td1\t1\r\n"
             "q3\td1\t0\r\n"  // a later line for the same pair wins
             "qX\td1\t1\r\n"  // unknown query: ignored
             "\r\n");
  BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const BeirData d = read_beir(tmp.path(), "test", lenient);
  CHECK(d.corpus_ids == std::vector<std::string>{"d1", "d2", "3", "d4"});
  CHECK(d.corpus_texts == std::vector<std::string>{"T1 one", "two", "three", "Only title"});
  CHECK(d.query_ids == std::vector<std::string>{"q1", "q3"});
  CHECK(d.query_texts == std::vector<std::string>{"first", "third"});
  REQUIRE(d.relevance.size() == 2);
  auto docs0 = d.relevance[0].docs;
  std::sort(docs0.begin(), docs0.end());
  CHECK(docs0 == std::vector<int64_t>{0, 2});
  CHECK(d.relevance[0].count == 2);
  CHECK(d.relevance[1].docs == std::vector<int64_t>{3});
  CHECK(d.relevance[1].count == 2);
  CHECK(d.queries_read == 4);
  CHECK(d.queries_skipped == 2);
  CHECK(d.qrels_read == 8);
  CHECK(d.qrels_not_relevant == 2);
  CHECK(d.qrels_unknown_query == 1);
  CHECK(d.qrels_unknown_doc == 1);

  // Strict by default: the first qrel naming an absent id is an error naming file:line and id.
  CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
             Catch::Contains("qrels/test.tsv:6: corpus-id \"missing\" is not in corpus.jsonl"));
  put(tmp / "qrels/test.tsv", "q1\td1\t1\nqX\td1\t0\n");
  CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
             Catch::Contains("qrels/test.tsv:2: query-id \"qX\" is not in queries.jsonl"));
  CHECK(read_beir(tmp.path(), "test", lenient).qrels_unknown_query == 1);
}

TEST_CASE("BEIR set: every record, id indexes, qrels line numbers, documents", "[eval]") {
  test::TempDir tmp;
  write_beir(tmp, "query-id\tcorpus-id\tscore\r\nq2\td1\t1\r\n\r\nq1\t3\t0\r\nq2\td1\t2\r\n");
  const BeirSet s = read_beir_set(tmp.path(), "test");
  REQUIRE(s.corpus.size() == 4);
  CHECK(s.queries.size() == 4);
  REQUIRE(s.qrels.size() == 3);  // every line, repeated pairs included
  CHECK(s.qrels[0].line == 2);
  CHECK(s.qrels[1].line == 4);
  CHECK(s.qrels[1].doc_id == "3");
  CHECK(s.qrels[1].score == 0);
  CHECK(s.qrels[2].score == 2);
  CHECK(s.find_doc("3") == 2);
  CHECK(s.find_doc("nope") == -1);
  CHECK(s.find_query("q4") == 3);
  CHECK(s.doc_row.at("d4") == 3);
  CHECK(s.document(0) == "T1 one");
  CHECK(s.document(1) == "two");
  CHECK(s.document(3) == "Only title");
  CHECK_THAT(s.qrels_name, Catch::EndsWith("test.tsv"));

  // The pieces: index_beir / assemble_beir are strict too; without a file, no line.
  std::vector<BeirQrel> qrels = {{"q1", "d1", 1, 0}, {"q1", "zz", 1, 0}};
  CHECK_THAT(error_of([&] { assemble_beir(s.corpus, s.queries, qrels); }),
             Catch::Contains("[beir] qrels: corpus-id \"zz\" is not in corpus.jsonl"));
  BeirOptions lenient;
  lenient.allow_unknown_ids = true;
  const BeirData d = assemble_beir(s.corpus, s.queries, qrels, lenient);
  CHECK(d.qrels_unknown_doc == 1);
  CHECK(d.relevance.at(0).count == 2);
  CHECK_THAT(error_of([&] {
               assemble_beir({{"a", "", "x"}, {"a", "", "y"}}, s.queries, {});
             }),
             Catch::Contains("duplicate corpus id \"a\""));
}

TEST_CASE("BEIR qrels without a header and with LF line ends", "[eval]") {
  test::TempDir tmp;
  write_beir(tmp, "q1\td1\t1\nq2\td2\t1\n");
  const BeirData d = read_beir(tmp.path(), "test");
  CHECK(d.query_ids == std::vector<std::string>{"q1", "q2"});
}

TEST_CASE("BEIR reader errors name the file and line", "[eval]") {
  test::TempDir tmp;
  const std::string good_qrels = "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\n";
  SECTION("not a folder") {
    CHECK_THAT(error_of([&] { read_beir(tmp / "nope", "test"); }),
               Catch::Contains("nope: not a folder"));
  }
  SECTION("missing split lists the splits there") {
    write_beir(tmp, good_qrels);
    put(tmp / "qrels/dev.tsv", good_qrels);
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "train"); }),
               Catch::Contains("train.tsv: no such file (splits here: dev, test)"));
  }
  SECTION("missing corpus.jsonl") {
    write_beir(tmp, good_qrels);
    std::filesystem::remove(tmp / "corpus.jsonl");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl: no such file"));
  }
  SECTION("bad JSON line") {
    write_beir(tmp, good_qrels);
    put(tmp / "corpus.jsonl",
        "{\"_id\": \"d1\", \"text\": \"a\"}\n\n{\"_id\": \"d2\", \"text\": }\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl:3: not valid JSON"));
  }
  SECTION("missing text, non-string title, bad _id") {
    write_beir(tmp, good_qrels);
    put(tmp / "corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"a\"}\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl:1: missing field \"text\""));
    put(tmp / "corpus.jsonl", "{\"_id\": \"d1\", \"title\": 5, \"text\": \"x\"}\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl:1: field \"title\" is not a string"));
    put(tmp / "corpus.jsonl", "{\"_id\": [1], \"text\": \"x\"}\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl:1: \"_id\" is neither a string nor an integer"));
    put(tmp / "corpus.jsonl", "[1, 2]\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl:1: expected a JSON object"));
  }
  SECTION("duplicate ids") {
    write_beir(tmp, good_qrels);
    put(tmp / "queries.jsonl",
        "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q2\", \"text\": \"b\"}\n"
        "{\"_id\": \"q1\", \"text\": \"c\"}\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("queries.jsonl:3: duplicate _id \"q1\" (first at line 1)"));
  }
  SECTION("bad qrels lines") {
    write_beir(tmp, "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1 d2 1\r\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("test.tsv:3: expected 3 tab-separated columns"));
    write_beir(tmp, "query-id\tcorpus-id\tscore\nq1\td1\tyes\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("test.tsv:2: score \"yes\" is not a number"));
  }
  SECTION("no query with a relevant document") {
    write_beir(tmp, "query-id\tcorpus-id\tscore\nq1\td1\t0\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("test.tsv: no query of queries.jsonl has a relevant document"));
  }
  SECTION("empty files") {
    write_beir(tmp, good_qrels);
    put(tmp / "corpus.jsonl", "\n\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("corpus.jsonl: no documents (the corpus is empty)"));
    write_beir(tmp, good_qrels);
    put(tmp / "queries.jsonl", "");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("queries.jsonl: no queries"));
    write_beir(tmp, "query-id\tcorpus-id\tscore\r\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("test.tsv: no judgements"));
  }
  SECTION("missing queries.jsonl, missing qrels folder") {
    write_beir(tmp, good_qrels);
    std::filesystem::remove(tmp / "queries.jsonl");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("queries.jsonl: no such file"));
    std::filesystem::remove_all(tmp / "qrels");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("qrels/test.tsv: no such file (splits here: none)"));
  }
  SECTION("invalid UTF-8") {
    write_beir(tmp, good_qrels);
    put(tmp / "queries.jsonl",
        "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q2\", \"text\": \"\xff\"}\n");
    CHECK_THAT(error_of([&] { read_beir(tmp.path(), "test"); }),
               Catch::Contains("queries.jsonl:2: not valid UTF-8"));
  }
}

TEST_CASE("STS files: 3 columns, the STS benchmark's columns, header, errors", "[eval]") {
  test::TempDir tmp;
  put(tmp / "a.tsv", "s1\ts2\tscore\nA cat.\tA dog.\t1.5\r\n\nx y\t z \t4\n");
  const StsData a = read_sts(tmp / "a.tsv");
  CHECK(a.sentences1 == std::vector<std::string>{"A cat.", "x y"});
  CHECK(a.sentences2 == std::vector<std::string>{"A dog.", " z "});
  CHECK(a.scores == std::vector<double>{1.5, 4.0});

  put(tmp / "b.tsv",
      "main-captions\tMSRvid\t2012test\t0001\t5.000\tA girl is styling her hair.\tA girl is "
      "brushing her hair.\n"
      "main-news\theadlines\t2015\t0002\t0.4\t\"Quoted\" one\tTwo\tsrc1\tsrc2\n");
  const StsData b = read_sts(tmp / "b.tsv");
  CHECK(b.sentences1 == std::vector<std::string>{"A girl is styling her hair.", "\"Quoted\" one"});
  CHECK(b.sentences2 == std::vector<std::string>{"A girl is brushing her hair.", "Two"});
  CHECK(b.scores == std::vector<double>{5.0, 0.4});

  put(tmp / "c.tsv", "a\tb\t1\na\tb\t2\t3\t4\n");
  CHECK_THAT(error_of([&] { read_sts(tmp / "c.tsv"); }),
             Catch::Contains("c.tsv:2: expected 3 tab-separated columns"));
  put(tmp / "d.tsv", "a\tb\t1\na\tb\tx\n");
  CHECK_THAT(error_of([&] { read_sts(tmp / "d.tsv"); }),
             Catch::Contains("d.tsv:2: score \"x\" (column 3) is not a number"));
  put(tmp / "e.tsv", "a\tb\t1\n");
  CHECK_THAT(error_of([&] { read_sts(tmp / "e.tsv"); }), Catch::Contains("at least 2 pairs"));
  CHECK_THAT(error_of([&] { read_sts(tmp / "none.tsv"); }), Catch::Contains("no such file"));
}
