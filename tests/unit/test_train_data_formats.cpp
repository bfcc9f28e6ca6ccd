// The data shapes and formats beyond NeMo's record: pairs, triplets, scored pairs and margins,
// from JSON (any key names), CSV (RFC 4180) and TSV (STSb's) with a header, column mapping,
// file:record errors, all_have_scores / all_have_margins, the public TrainData::open.
#include <catch2/catch.hpp>

#include <fstream>

#include "data/train_reader.h"
#include "sbert/error.h"
#include "sbert/train.h"
#include "support/fixtures.h"

using namespace sbert;
using namespace std::string_literals;
using Catch::Matchers::Contains;
using sbert::test::TempDir;

namespace {

std::filesystem::path write_file(const TempDir& dir, const std::string& name,
                                 const std::string& content) {
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string open_error(const TempDir& dir, const std::string& name, const std::string& content,
                       TrainReaderOptions opt = {}) {
  const auto p = write_file(dir, name, content);
  try {
    (void)TrainDataset::open(p, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TrainReaderOptions columns(DataColumns c, DataFormat f = DataFormat::Auto) {
  TrainReaderOptions o;
  o.columns = std::move(c);
  o.format = f;
  return o;
}

std::filesystem::path source_file(const std::string& rel) {
  return sbert::test::source_dir() / rel;
}

}  // namespace

TEST_CASE("pairs without neg_doc are read as pairs", "[train-data][formats]") {
  TempDir dir;
  const auto p = write_file(dir, "pairs.jsonl",
                            "{\"query\": \"q1\", \"pos_doc\": \"p1\"}\n"
                            "{\"query\": \"q2\", \"pos_doc\": \"p2\", \"neg_doc\": [\"n2\"]}\n");
  const TrainDataset d = TrainDataset::open(p);
  REQUIRE(d.size() == 2);
  CHECK(d.record(0).neg_docs.empty());
  CHECK(d.record(1).neg_docs == std::vector<std::string>{"n2"});
  CHECK_FALSE(d.all_have_scores());
  CHECK_FALSE(d.all_have_margins());
}

TEST_CASE("a pairs CSV with header anchor,positive reads with no mapping", "[train-data][formats]") {
  TempDir dir;
  // BOM, CRLF, quoted commas, doubled quotes, a newline inside quotes, a blank line.
  const auto p = write_file(dir, "pairs.csv",
                            "\xEF\xBB\xBF" "anchor,positive\r\n"
                            "\"what, exactly?\",\"a \"\"quoted\"\" answer\"\r\n"
                            "\r\n"
                            "plain,\"two\nlines\"\r\n"
                            "x,it's \"fine\" unquoted\r\n");
  const TrainDataset d = TrainDataset::open(p);
  REQUIRE(d.size() == 3);
  CHECK(d.format() == TrainFileFormat::Csv);
  CHECK(d.record(0).query == "what, exactly?");
  CHECK(d.record(0).pos_doc == "a \"quoted\" answer");
  CHECK(d.record(1).pos_doc == "two\nlines");
  CHECK(d.record(2).pos_doc == "it's \"fine\" unquoted");
  CHECK(d.record(0).neg_docs.empty());
  CHECK(d.where(1) == p.string() + ":record 2 (line 4)");
  CHECK(d.where(2) == p.string() + ":record 3 (line 6)");

  // The shipped quickstart pairs file.
  const TrainDataset q = TrainDataset::open(source_file("data/quickstart/pairs.csv"));
  CHECK(q.size() == 16);
  CHECK(q.record(3).pos_doc == "Gas from yeast makes holes in bread, so it is soft.");
}

TEST_CASE("CSV column order: anchor, positive, negatives, score and margin columns",
          "[train-data][formats]") {
  TempDir dir;
  const TrainDataset t = TrainDataset::open(source_file("tests/data/train_formats/triplets.csv"));
  REQUIRE(t.size() == 2);
  CHECK(t.record(0).query == "what is in espresso, really");
  CHECK(t.record(0).pos_doc == "Espresso is a \"concentrated\" coffee.");
  CHECK(t.record(0).neg_docs == std::vector<std::string>{"Herbal tea has no caffeine."});
  CHECK(t.record(1).pos_doc == "Magma forms when rock melts\ndeep under the crust.");
  CHECK(t.where(1) == source_file("tests/data/train_formats/triplets.csv").string() +
                          ":record 2 (line 3)");

  const auto p = write_file(dir, "distill.csv",
                            "label,query,pos,n1,n2,margin_1,margin_2\n"
                            "0.5,q,p,a,b,1.5,-2e-1\n");
  const TrainDataset d = TrainDataset::open(p);
  const TrainRecord r = d.record(0);
  CHECK(r.query == "q");
  CHECK(r.pos_doc == "p");
  CHECK(r.neg_docs == std::vector<std::string>{"a", "b"});
  REQUIRE(r.score.has_value());
  CHECK(*r.score == 0.5);
  CHECK(r.margins == std::vector<double>{1.5, -0.2});
  CHECK(d.all_have_scores());
  CHECK(d.all_have_margins());
}

TEST_CASE("an STSb-style TSV with sentence1 sentence2 score reads as scored pairs",
          "[train-data][formats]") {
  const auto path = source_file("tests/data/train_formats/stsb_sample.tsv");
  const TrainDataset d = TrainDataset::open(path);
  REQUIRE(d.size() == 8);
  CHECK(d.format() == TrainFileFormat::Tsv);
  CHECK(d.all_have_scores());
  CHECK_FALSE(d.all_have_margins());
  const TrainRecord r = d.record(3);
  CHECK(r.query == "Hamas mixed sex schools ban takes effect");
  CHECK(r.pos_doc == "Hamas in mixed-sex school 'ban'");
  CHECK(r.neg_docs.empty());
  CHECK(*r.score == Approx(0.84).epsilon(0));

  TempDir dir;
  // TSV has no quoting: quotes are text.
  const auto q = write_file(dir, "q.tsv", "sentence1\tsentence2\tscore\n\"a\tb\"\t3\n");
  const TrainDataset dq = TrainDataset::open(q);
  CHECK(dq.record(0).query == "\"a");
  CHECK(dq.record(0).pos_doc == "b\"");
  CHECK(*dq.record(0).score == 3);
}

TEST_CASE("column mapping names the fields of JSON and CSV records", "[train-data][formats]") {
  TempDir dir;
  // sentence-transformers-style JSONL triplets, a negative given as a string.
  const auto j = write_file(dir, "t.jsonl",
                            "{\"anchor\": \"a1\", \"positive\": \"p1\", \"negative\": \"n1\"}\n");
  DataColumns c;
  c.anchor = "anchor";
  c.positive = "positive";
  c.negatives = {"negative"};
  CHECK_THAT(open_error(dir, "t.jsonl",
                        "{\"anchor\": \"a1\", \"positive\": \"p1\", \"negative\": \"n1\"}\n"),
             Contains("t.jsonl:record 1 (line 1): missing field 'query' (other key names for the "
                      "texts: set the anchor and positive of model.data.columns)"));
  const TrainDataset dj = TrainDataset::open(j, columns(c));
  CHECK(dj.record(0).query == "a1");
  CHECK(dj.record(0).neg_docs == std::vector<std::string>{"n1"});
  c.score = "label";
  CHECK_THAT(open_error(dir, "t2.jsonl",
                        "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": \"n\"}\n",
                        columns(c)),
             Contains("t2.jsonl:record 1 (line 1): missing field 'label'"));

  // Scored pairs in JSON with other key names; a JSON array.
  DataColumns s;
  s.anchor = "sentence1";
  s.positive = "sentence2";
  s.score = "score";
  const auto a = write_file(dir, "s.json",
                            "[{\"sentence1\": \"x\", \"sentence2\": \"y\", \"score\": 4}]");
  const TrainDataset da = TrainDataset::open(a, columns(s));
  CHECK(*da.record(0).score == 4);
  CHECK(da.all_have_scores());

  // CSV with extra columns: named ones are used, the rest ignored.
  DataColumns m;
  m.anchor = "q";
  m.positive = "p";
  m.score = "s";
  const auto x = write_file(dir, "x.csv", "id,q,p,s,genre\n7,hello,world,0.25,news\n");
  const TrainRecord r = TrainDataset::open(x, columns(m)).record(0);
  CHECK(r.query == "hello");
  CHECK(r.pos_doc == "world");
  CHECK(r.neg_docs.empty());
  CHECK(*r.score == 0.25);
  m.anchor = "question";
  CHECK_THAT(open_error(dir, "x2.csv", "id,q,p,s\n7,hello,world,1\n", columns(m)),
             Contains("x2.csv:line 1: column 'question' (columns.anchor) is not in the header: "
                      "id, q, p, s"));
}

TEST_CASE("the format comes from the extension or the option", "[train-data][formats]") {
  TempDir dir;
  const auto t = write_file(dir, "data.txt", "a\tb\nq\tp\n");
  CHECK_THAT(open_error(dir, "data.txt", "a\tb\nq\tp\n"),
             Contains("expected a JSON array ('[') or JSON Lines ('{')"));
  CHECK(TrainDataset::open(t, columns({}, DataFormat::Tsv)).record(0).pos_doc == "p");
  // STSb's original .csv files are tab-separated: the error says so.
  CHECK_THAT(open_error(dir, "sts.csv", "sentence1\tsentence2\tscore\na\tb\t1\n"),
             Contains("is the file TSV? set format: tsv"));
  CHECK(parse_data_format("jsonl") == DataFormat::Json);
  CHECK_THROWS_WITH(parse_data_format("xml"), Contains("format must be auto, json, jsonl"));
}

TEST_CASE("bad CSV and TSV rows are refused with file, record and line", "[train-data][formats]") {
  TempDir dir;
  auto bad = [&](const std::string& name, const std::string& body) {
    return open_error(dir, name, "anchor,positive,score\nq,p,1\n" + body);
  };
  const std::string path = (dir / "b.csv").string();
  CHECK(bad("b.csv", "q,p\n") ==
        "[train-data] " + path + ":record 2 (line 3): has 2 fields, the header has 3");
  CHECK_THAT(bad("b.csv", "q,p,high\n"),
             Contains(":record 2 (line 3): column 'score' must be a finite number, got 'high'"));
  CHECK_THAT(bad("b.csv", "q,p,nan\n"), Contains("column 'score' must be a finite number"));
  CHECK_THAT(bad("b.csv", ",p,1\n"), Contains(":record 2 (line 3): column 'anchor' is empty"));
  CHECK_THAT(bad("b.csv", "q,\"  \",1\n"), Contains("column 'positive' is only whitespace"));
  CHECK_THAT(bad("b.csv", "q,\"p\"x,1\n"),
             Contains(":record 2 (line 3): not valid CSV: text after the closing quote of field 2"));
  CHECK_THAT(bad("b.csv", "q,\"p\n"),
             Contains(":record 2 (line 3): truncated: the file ends inside a quoted field"));
  CHECK_THAT(bad("b.csv", "q,p\xff,1\n"),
             Contains(":record 2 (line 3): column 'positive' is not valid UTF-8"));
  CHECK_THAT(open_error(dir, "n.csv", "anchor,positive,negative\nq,p, p \n"),
             Contains(":record 1 (line 2): column 'negative' is the same text as column "
                      "'positive'"));
  CHECK_THAT(open_error(dir, "t.tsv", "a\tb\nq\tp\textra\n"),
             Contains(":record 1 (line 2): has 3 fields, the header has 2 (TSV has no quoting"));
  CHECK_THAT(open_error(dir, "h.csv", "anchor,anchor\nq,p\n"),
             Contains("h.csv:line 1: the header names column 'anchor' twice"));
  CHECK_THAT(open_error(dir, "one.csv", "score,anchor\n1,q\n"),
             Contains("leaves no column for the positive"));
  CHECK_THAT(open_error(dir, "m.csv", "a,p,n,margin_1,margin_2\nq,p,n,1,2\n"),
             Contains("2 margin columns for 1 negative columns"));
  CHECK_THAT(open_error(dir, "e.csv", ""), Contains("e.csv: the file is empty"));
  CHECK_THAT(open_error(dir, "o.csv", "anchor,positive\n"), Contains("no records (only the header)"));

  // skip_bad_records counts them; the good ones keep their record numbers.
  TrainReaderOptions skip;
  skip.skip_bad_records = true;
  const auto p = write_file(dir, "s.csv", "anchor,positive,score\nq1,p1,1\nq2,p2\nq3,p3,x\nq4,p4,4\n");
  const TrainDataset d = TrainDataset::open(p, skip);
  CHECK(d.size() == 2);
  CHECK(d.stats().skipped == 2);
  CHECK_THAT(d.stats().first_skipped, Contains(":record 2 (line 3): has 2 fields"));
  CHECK(d.where(1) == p.string() + ":record 4 (line 5)");
  CHECK(d.all_have_scores());
}

TEST_CASE("JSON scores and margins, and all_have_scores with some missing",
          "[train-data][formats]") {
  TempDir dir;
  const auto p = write_file(
      dir, "d.jsonl",
      "{\"query\": \"q\", \"pos_doc\": \"p\", \"neg_doc\": [\"a\", \"b\"], \"margins\": [0.5, 2], "
      "\"score\": 1}\n"
      "{\"query\": \"q2\", \"pos_doc\": \"p2\", \"neg_doc\": [\"c\"], \"margins\": [3]}\n");
  const TrainDataset d = TrainDataset::open(p);
  CHECK(d.record(0).margins == std::vector<double>{0.5, 2});
  CHECK(*d.record(0).score == 1);
  CHECK_FALSE(d.record(1).score.has_value());
  CHECK(d.all_have_margins());
  CHECK_FALSE(d.all_have_scores());

  // Several files, and concat: the counts add up.
  const auto q = write_file(dir, "e.jsonl", "{\"query\": \"q\", \"pos_doc\": \"p\", \"score\": 2}\n");
  std::vector<TrainDataset> parts;
  parts.push_back(TrainDataset::open(q));
  parts.push_back(TrainDataset::open(source_file("tests/data/train_formats/stsb_sample.tsv")));
  const TrainDataset c = TrainDataset::concat(std::move(parts));
  CHECK(c.size() == 9);
  CHECK(c.all_have_scores());
  CHECK(c.record(8).pos_doc == TrainDataset::open(
      source_file("tests/data/train_formats/stsb_sample.tsv")).record(7).pos_doc);
  CHECK_THAT(c.where(8), Contains("stsb_sample.tsv:record 8 (line 9)"));
}

TEST_CASE("TrainData::open reads CSV and TSV with options", "[train-data][formats]") {
  TempDir dir;
  const auto p = write_file(dir, "x.txt", "s1,s2,y\nhello,world,0.5\n");
  TrainDataOptions o;
  o.format = DataFormat::Csv;
  o.columns.score = "y";
  const TrainData d = TrainData::open({p}, o);
  CHECK(d.size() == 1);
  CHECK(d.all_have_scores());
  CHECK_FALSE(d.all_have_margins());
  CHECK(d.example(0).query == "hello");
  CHECK(*d.example(0).score == 0.5);
}
