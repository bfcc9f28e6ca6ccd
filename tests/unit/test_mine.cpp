// Hard-negative mining: the selection rules on hand-made embeddings (exact thresholds), what
// mining takes from the shared BEIR reader, and mine_beir end to end on a small BEIR set with
// the tiny-bert fixture model. The search itself is tested in test_eval_search.cpp.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/train_reader.h"
#include "eval/beir.h"
#include "eval/search.h"
#include "mine/mine.h"
#include "sbert/error.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
using namespace sbert::mine;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::slurp;
using test::put;

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

// Unit vectors in 2-D at the given angles (radians): dot = cos(angle difference).
std::vector<float> at_angles(const std::vector<double>& angles) {
  std::vector<float> v;
  for (const double a : angles) {
    v.push_back(static_cast<float>(std::cos(a)));
    v.push_back(static_cast<float>(std::sin(a)));
  }
  return v;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Selection on hand-made embeddings: query at angle 0, document i at angle 0.1 * i, so
// document i has rank i and cosine cos(0.1 i): 1, 0.995, 0.980, 0.955, 0.921, 0.878, 0.825,
// 0.765, 0.697, 0.622, 0.540, 0.454, ...

namespace {

struct Fixture {
  std::vector<float> q, d;
  int64_t nd;
  explicit Fixture(int64_t n = 20, double step = 0.1) : nd(n) {
    q = at_angles({0.0});
    std::vector<double> a;  // below pi, so that the cosine falls with i
    for (int64_t i = 0; i < n; ++i) a.push_back(step * static_cast<double>(i));
    d = at_angles(a);
  }
  QueryNegatives run(const std::vector<int64_t>& pos, const SelectOptions& o,
                     SelectStats* st = nullptr, const std::vector<int64_t>& excl = {}) const {
    return select_negatives(q.data(), 1, d.data(), nd, 2, {pos}, {excl}, {42}, o, st)[0];
  }
  float score(int64_t i) const { return eval::dot(q.data(), d.data() + 2 * i, 2); }
};

}  // namespace

TEST_CASE("mine: positives are never negatives - ranks count surviving candidates", "[mine]") {
  const Fixture f;
  SelectOptions o;
  o.num_negatives = 3;
  o.range_min = 0;
  o.range_max = 10;
  SelectStats st;
  // Positive at rank 2: ranks 0, 1, 3 are the top three.
  auto n = f.run({2}, o, &st);
  CHECK(n.rows == std::vector<int64_t>{0, 1, 3});
  CHECK(n.positive_score == f.score(2));
  CHECK(n.scores == std::vector<float>{f.score(0), f.score(1), f.score(3)});
  CHECK(st.candidates == 11);  // range_max + 1 positive
  CHECK(st.dropped_positive == 1);
  CHECK(st.negatives == 3);

  // range [2, 5) among survivors: survivors are 0,1,3,4,5,...; ranks 2..4 -> 3,4,5.
  o.range_min = 2;
  o.range_max = 5;
  n = f.run({2}, o);
  CHECK(n.rows == std::vector<int64_t>{3, 4, 5});
  // Several positives and excluded rows; range [1, 4) of survivors 0,3,6,7,8 -> 3,6,7.
  o.range_min = 1;
  o.range_max = 4;
  n = f.run({1, 4, 5}, o, &st, {2});
  CHECK(n.rows == std::vector<int64_t>{3, 6, 7});
  CHECK(n.positive_score == f.score(5));  // the lowest positive score
  CHECK(st.dropped_positive == 3);
  CHECK(st.dropped_duplicate == 1);
  CHECK(st.candidates == 4 + 4);  // range_max + (3 positives + 1 excluded)
  // K = 0: nothing searched.
  o.num_negatives = 0;
  n = f.run({2}, o, &st);
  CHECK(n.rows.empty());
  CHECK(st.candidates == 0);
}

TEST_CASE("mine: margins and score thresholds drop exactly what they should", "[mine]") {
  const Fixture f;
  SelectOptions o;
  o.num_negatives = 4;
  o.range_max = 12;
  // Positive: document 6 (cos 0.6 rad = 0.8253).
  const float pos = f.score(6);

  SECTION("absolute margin: drop score + m > pos") {
    o.absolute_margin = 0.1f;  // drop > 0.7253: docs 0..6 (0..5 + positive); keep 7 (0.7648)?
    SelectStats st;
    const auto n = f.run({6}, o, &st);
    // 0.7648 + 0.1 > 0.8253, so 7 goes too; 8 (0.6967) stays.
    CHECK(f.score(7) + 0.1f > pos);
    CHECK(f.score(8) + 0.1f <= pos);
    CHECK(n.rows == std::vector<int64_t>{8, 9, 10, 11});
    CHECK(st.dropped_absolute_margin == 7);  // 0..5 and 7
    CHECK(st.dropped_by_filters() == 7);
    o.absolute_margin = 0.0f;  // negatives must score at most the positive
    CHECK(f.run({6}, o).rows == std::vector<int64_t>{7, 8, 9, 10});
  }
  SECTION("relative margin: drop score > pos - |pos| r") {
    o.relative_margin = 0.05f;  // threshold 0.8253 * 0.95 = 0.7840: 7 (0.7648) survives
    SelectStats st;
    const auto n = f.run({6}, o, &st);
    CHECK(n.rows == std::vector<int64_t>{7, 8, 9, 10});
    CHECK(st.dropped_relative_margin == 6);
    o.relative_margin = 0.2f;  // 0.6602: 8 (0.6967) dropped too, 9 (0.6216) kept
    CHECK(f.run({6}, o).rows == std::vector<int64_t>{9, 10, 11, 12});
  }
  SECTION("max and min score") {
    o.max_score = 0.9f;  // drops 0..4 (cos 0.4 = 0.921), keeps 5 (0.878)
    o.min_score = 0.6f;  // drops 10.. (0.540), keeps 9 (0.622)
    SelectStats st;
    const auto n = f.run({6}, o, &st);
    CHECK(n.rows == std::vector<int64_t>{5, 7, 8, 9});
    CHECK(st.dropped_max_score == 5);
    CHECK(st.dropped_min_score == 13 - 10);  // retrieved 0..12 (range_max 12 + 1): 10, 11, 12
    // Few survivors: fewer than K negatives, counted as short.
    o.min_score = 0.7f;
    const auto m = f.run({6}, o, &st);
    CHECK(m.rows == std::vector<int64_t>{5, 7});
    CHECK(st.short_queries == 1);
  }
  SECTION("filters apply before the rank range, as sentence-transformers") {
    o.max_score = 0.9f;  // retrieved 0..12; survivors 5, 7, 8, 9, 10, 11, 12
    o.range_min = 2;
    o.range_max = 12;
    CHECK(f.run({6}, o).rows == std::vector<int64_t>{8, 9, 10, 11});
    // Only range_max + 1 documents are retrieved (0..6); one survives (5), at rank 0, so
    // ranks [2, 6) are empty: nothing is searched beyond range_max + positives.
    o.range_max = 6;
    SelectStats st;
    CHECK(f.run({6}, o, &st).rows.empty());
    CHECK(st.short_queries == 1);
    CHECK(st.candidates == 7);
  }
}

TEST_CASE("mine: random sampling is seeded, per query, within the range, without repeats",
          "[mine]") {
  // Three identical queries with different keys, one positive each.
  const Fixture f(40, 0.05);
  std::vector<float> q3 = at_angles({0.0, 0.0, 0.0});
  SelectOptions o;
  o.num_negatives = 4;
  o.range_min = 5;
  o.range_max = 25;
  o.sampling = Sampling::Random;
  o.seed = 11;
  const std::vector<std::vector<int64_t>> pos = {{0}, {0}, {0}};
  const auto a = select_negatives(q3.data(), 3, f.d.data(), f.nd, 2, pos, {}, {1, 2, 3}, o);
  const auto b = select_negatives(q3.data(), 3, f.d.data(), f.nd, 2, pos, {}, {1, 2, 3}, o);
  std::set<std::vector<int64_t>> distinct;
  for (int i = 0; i < 3; ++i) {
    const auto& r = a[static_cast<size_t>(i)].rows;
    CHECK(r == b[static_cast<size_t>(i)].rows);  // same seed, same sample
    REQUIRE(r.size() == 4);
    CHECK(std::is_sorted(r.begin(), r.end()));  // written best first
    CHECK(std::set<int64_t>(r.begin(), r.end()).size() == 4);
    for (const int64_t x : r) CHECK((x >= 6 && x < 26));  // survivors 1..39: ranks 5..24
    distinct.insert(r);
  }
  CHECK(distinct.size() > 1);  // the keys matter
  // A query's sample depends on its key, not on its position or the other queries.
  const auto c = select_negatives(q3.data(), 1, f.d.data(), f.nd, 2, {{0}}, {}, {3}, o);
  CHECK(c[0].rows == a[2].rows);
  // Another seed changes samples; over many seeds every window rank is drawn.
  std::set<int64_t> seen;
  bool changed = false;
  for (uint64_t s = 0; s < 60; ++s) {
    o.seed = s;
    const auto r = select_negatives(q3.data(), 1, f.d.data(), f.nd, 2, {{0}}, {}, {3}, o);
    seen.insert(r[0].rows.begin(), r[0].rows.end());
    changed = changed || r[0].rows != a[2].rows;
  }
  CHECK(changed);
  CHECK(seen.size() == 20);
  CHECK(*seen.begin() == 6);
  CHECK(*seen.rbegin() == 25);
}

TEST_CASE("mine: option validation", "[mine]") {
  SelectOptions o;
  o.num_negatives = -1;
  CHECK_THROWS_WITH(validate(o), Contains("num_negatives must be >= 0, got -1"));
  o = {};
  o.range_min = 10;
  o.range_max = 5;
  CHECK_THROWS_WITH(validate(o), Contains("range_min (10) must not exceed range_max (5)"));
  o = {};
  o.num_negatives = 8;
  o.range_min = 0;
  o.range_max = 5;
  CHECK_THROWS_WITH(validate(o), Contains("cannot take 8 negatives from ranks [0, 5)"));
  o = {};
  o.range_min = -1;
  CHECK_THROWS_WITH(validate(o), Contains("range_min must be >= 0"));
  o = {};
  o.absolute_margin = -0.1f;
  CHECK_THROWS_WITH(validate(o), Contains("absolute_margin must be >= 0"));
  o = {};
  o.relative_margin = 1.5f;
  CHECK_THROWS_WITH(validate(o), Contains("relative_margin must be in [0, 1]"));
  o = {};
  o.max_score = NAN;
  CHECK_THROWS_WITH(validate(o), Contains("max_score must be a finite number"));
  o = {};
  o.num_negatives = 0;
  o.range_min = o.range_max = 3;
  CHECK_NOTHROW(validate(o));
  CHECK_THROWS_WITH(parse_sampling("best"), Contains("'top' or 'random'"));
}

// ------------------------------------------------------------------------------------------
// BEIR reader

TEST_CASE("mine: the BEIR reader it uses (header, CRLF, numeric ids, file:line errors)", "[mine]") {
  using eval::read_beir_set;
  test::TempDir tmp;
  put(tmp / "b/corpus.jsonl",
        "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n"
        "\n"
        "{\"_id\": 2, \"text\": \"two\", \"metadata\": {}}\n");
  put(tmp / "b/queries.jsonl", "\xEF\xBB\xBF{\"_id\": \"q1\", \"text\": \"why\"}\r\n");
  put(tmp / "b/qrels/train.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\t2\t0\r\n");
  put(tmp / "b/qrels/noheader.tsv", "q1\td1\t1\n");
  const eval::BeirSet d = read_beir_set(tmp / "b", "train");
  REQUIRE(d.corpus.size() == 2);
  CHECK(d.corpus[0].id == "d1");
  CHECK(d.corpus[1].id == "2");
  CHECK(d.document(0) == "T one");
  CHECK(d.document(1) == "two");  // no title: the text alone
  REQUIRE(d.queries.size() == 1);
  CHECK(d.queries[0].id == "q1");
  REQUIRE(d.qrels.size() == 2);
  CHECK(d.qrels[1].doc_id == "2");
  CHECK(d.qrels[1].score == 0);
  CHECK(d.qrels[1].line == 3);
  CHECK(read_beir_set(tmp / "b", "noheader").qrels.size() == 1);

  auto fails = [&](const std::string& qrels, const std::string& what) {
    put(tmp / "b/qrels/bad.tsv", qrels);
    CHECK_THROWS_WITH(read_beir_set(tmp / "b", "bad"), Contains(what));
  };
  fails("q1\tnope\t1\n", "qrels/bad.tsv:1: corpus-id \"nope\" is not in corpus.jsonl");
  fails("query-id\tcorpus-id\tscore\nq9\td1\t1\n",
        "bad.tsv:2: query-id \"q9\" is not in queries.jsonl");
  fails("q1\td1\t1\nq1\t2\tx\n", "bad.tsv:2: score \"x\" is not a number");
  fails("q1 d1 1\n", "bad.tsv:1: expected 3 tab-separated columns");
  fails("query-id\tcorpus-id\tscore\n", "bad.tsv: no judgements");
  CHECK_THROWS_WITH(read_beir_set(tmp / "b", "dev"), Contains("qrels/dev.tsv: no such file"));
  CHECK_THROWS_WITH(read_beir_set(tmp / "nowhere", "train"), Contains("nowhere: not a folder"));
  put(tmp / "b/corpus.jsonl",
        "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n");
  CHECK_THROWS_WITH(read_beir_set(tmp / "b", "train"),
                    Contains("corpus.jsonl:2: duplicate _id \"d1\" (first at line 1)"));
  put(tmp / "b/corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"x\"}\n");
  CHECK_THROWS_WITH(read_beir_set(tmp / "b", "train"),
                    Contains("corpus.jsonl:1: missing field \"text\""));
  put(tmp / "b/corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"\n");
  CHECK_THROWS_WITH(read_beir_set(tmp / "b", "train"), Contains("corpus.jsonl:1: not valid JSON"));
}

// ------------------------------------------------------------------------------------------
// End to end with the tiny model

namespace {

// A small BEIR set from the fixture texts. Queries q0..q6 (q6 = q0's text); documents d0..d29 plus
//   "near": d3's text with its last character changed (a near duplicate of q0's positive),
//   "same": d5's title and text with extra spaces (the same text as q1's positive).
struct TinyBeir {
  test::TempDir tmp;
  fs::path dir;
  std::vector<std::string> texts;
  TinyBeir() : dir(tmp / "beir"), texts(test::fixture_texts()) {
    REQUIRE(texts.size() > 120);
    std::string corpus;
    for (int i = 0; i < 30; ++i) {
      const std::string title = i % 3 == 0 ? "" : "Doc " + std::to_string(i);
      corpus += "{\"_id\": \"d" + std::to_string(i) + "\", \"title\": " + json_str(title) +
                ", \"text\": " + json_str(texts[static_cast<size_t>(i)]) + "}\n";
    }
    std::string near = texts[3];
    near.back() = near.back() == '.' ? '!' : '.';
    corpus += "{\"_id\": \"near\", \"title\": \"\", \"text\": " + json_str(near) + "}\n";
    corpus +=
        "{\"_id\": \"same\", \"title\": \"Doc 5\", \"text\": " + json_str(texts[5] + "  ") + "}\n";
    put(dir / "corpus.jsonl", corpus);
    std::string queries;
    for (int i = 0; i < 6; ++i)
      queries += "{\"_id\": \"q" + std::to_string(i) +
                 "\", \"text\": " + json_str(texts[static_cast<size_t>(100 + i)]) + "}\n";
    // q6 has q0's text: one query for mining, with the positives of both.
    queries += "{\"_id\": \"q6\", \"text\": " + json_str(texts[100]) + "}\n";
    put(dir / "queries.jsonl", queries);
    // Qrels order is not query order; q2 has two positives; q4's only row is not positive.
    put(dir / "qrels/train.tsv",
          "query-id\tcorpus-id\tscore\r\nq2\td8\t1\r\nq0\td3\t1\r\nq1\td5\t2\r\nq2\td7\t1\r\n"
          "q4\td11\t0\r\nq3\td10\t1\r\nq5\td12\t1\r\nq6\td20\t1\r\n");
  }
};

struct Rec {
  std::string query, pos, query_id, pos_id;
  std::vector<std::string> negs, neg_ids;
  float pos_score = 0;
  std::vector<float> neg_scores;
};

std::vector<Rec> read_records(const fs::path& p) {
  std::vector<Rec> out;
  simdjson::dom::parser parser;
  std::istringstream in(slurp(p));
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::element e = parser.parse(line);
    Rec r;
    r.query = std::string(std::string_view(e["query"]));
    r.pos = std::string(std::string_view(e["pos_doc"]));
    for (auto x : e["neg_doc"].get_array()) r.negs.emplace_back(std::string_view(x));
    simdjson::dom::element v;
    if (!e["query_id"].get(v)) {
      r.query_id = std::string(std::string_view(v));
      r.pos_id = std::string(std::string_view(e["pos_id"]));
      for (auto x : e["neg_ids"].get_array()) r.neg_ids.emplace_back(std::string_view(x));
      r.pos_score = static_cast<float>(double(e["pos_score"]));
      for (auto x : e["neg_scores"].get_array())
        r.neg_scores.push_back(static_cast<float>(double(x)));
    }
    out.push_back(std::move(r));
  }
  return out;
}

MineOptions base_options() {
  MineOptions o;
  o.select.num_negatives = 3;
  o.select.range_min = 0;
  o.select.range_max = 30;
  o.write_ids = true;
  o.embed.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("mine: mine_beir writes NeMo records in qrels order, never a positive", "[mine]") {
  TinyBeir b;
  const Model model = Model::load(test::fixture_dir("tiny-bert"));
  MineOptions o = base_options();
  const fs::path out = b.tmp / "mined.jsonl";
  const MineStats st = mine_beir(model, b.dir, out, o);
  CHECK(st.records == 7);  // 8 rows, one with score 0
  CHECK(st.skipped_not_positive == 1);
  CHECK(st.select.queries == 5);  // q0 and q6 share a text
  CHECK(st.corpus_docs == 32);
  CHECK(st.select.negatives == 15);
  CHECK(st.select.dropped_positive == 7);
  CHECK(st.select.dropped_duplicate == 1);  // "same", for q1
  CHECK(st.records_short == 0);

  // The training reader accepts it as NeMo JSONL.
  const auto ds = TrainDataset::open(out);
  CHECK(ds.size() == 7);

  const auto recs = read_records(out);
  REQUIRE(recs.size() == 7);
  const std::vector<std::pair<std::string, std::string>> order = {
      {"q2", "d8"},  {"q0", "d3"},  {"q1", "d5"}, {"q2", "d7"},
      {"q3", "d10"}, {"q5", "d12"}, {"q6", "d20"}};
  const std::map<std::string, std::set<std::string>> positives = {
      {"q0", {"d3", "d20"}}, {"q1", {"d5", "same"}}, {"q2", {"d7", "d8"}},
      {"q3", {"d10"}},       {"q5", {"d12"}},        {"q6", {"d3", "d20"}}};
  for (size_t i = 0; i < recs.size(); ++i) {
    const Rec& r = recs[i];
    CHECK(r.query_id == order[i].first);
    CHECK(r.pos_id == order[i].second);
    const size_t qi = static_cast<size_t>(std::stoi(r.query_id.substr(1)));
    CHECK(r.query == b.texts[100 + (qi == 6 ? 0 : qi)]);
    const int di = std::stoi(r.pos_id.substr(1));
    const std::string title = di % 3 == 0 ? "" : "Doc " + std::to_string(di);
    CHECK(r.pos == (title.empty() ? "" : title + " ") + b.texts[static_cast<size_t>(di)]);
    REQUIRE(r.negs.size() == 3);
    for (size_t j = 0; j < r.negs.size(); ++j) {
      CHECK(positives.at(r.query_id).count(r.neg_ids[j]) == 0);
      CHECK(r.negs[j] != r.pos);
      if (j) CHECK(r.neg_scores[j - 1] >= r.neg_scores[j]);
    }
  }
  // Both records of q2 carry q2's negatives; q6 shares q0's.
  CHECK(recs[0].neg_ids == recs[3].neg_ids);
  CHECK(recs[6].neg_ids == recs[1].neg_ids);
  CHECK(recs[6].query == recs[1].query);

  // Without ids: exactly the three NeMo fields.
  o.write_ids = false;
  mine_beir(model, b.dir, out, o);
  const std::string first = slurp(out).substr(0, slurp(out).find('\n'));
  CHECK(first.rfind("{\"query\": ", 0) == 0);
  CHECK_THAT(first, !Contains("query_id"));
  CHECK(read_records(out)[1].negs == recs[1].negs);
}

TEST_CASE("mine: rank range, chunking and seeds on the tiny model", "[mine]") {
  TinyBeir b;
  const Model model = Model::load(test::fixture_dir("tiny-bert"));
  MineOptions o = base_options();
  // The full ranking of every query's non-positives.
  o.select.num_negatives = 28;
  o.select.range_max = 28;
  mine_beir(model, b.dir, b.tmp / "all.jsonl", o);
  const auto all = read_records(b.tmp / "all.jsonl");

  o.select.num_negatives = 3;
  o.select.range_min = 4;
  o.select.range_max = 9;
  mine_beir(model, b.dir, b.tmp / "range.jsonl", o);
  const auto ranged = read_records(b.tmp / "range.jsonl");
  REQUIRE(ranged.size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(ranged[i].neg_ids ==
          std::vector<std::string>(all[i].neg_ids.begin() + 4, all[i].neg_ids.begin() + 7));
  }

  // Chunk sizes and threads do not change a byte.
  o.select.sampling = Sampling::Random;
  o.select.seed = 5;
  mine_beir(model, b.dir, b.tmp / "a.jsonl", o);
  o.select.search.query_block = 1;
  o.select.search.doc_block = 3;
  o.select.search.threads = 1;  // the search's threads (embedding keeps its 2: OpenBLAS's
                                // threaded GEMM sums in a thread-count-dependent order)
  mine_beir(model, b.dir, b.tmp / "b.jsonl", o);
  CHECK(slurp(b.tmp / "a.jsonl") == slurp(b.tmp / "b.jsonl"));
  // Random picks come from ranks [4, 9) and depend on the seed.
  const auto sampled = read_records(b.tmp / "a.jsonl");
  for (size_t i = 0; i < sampled.size(); ++i) {
    CHECK(sampled[i].neg_ids.size() == 3);
    const std::vector<std::string> window(all[i].neg_ids.begin() + 4, all[i].neg_ids.begin() + 9);
    size_t last = 0;
    for (const auto& id : sampled[i].neg_ids) {
      const auto it = std::find(window.begin(), window.end(), id);
      REQUIRE(it != window.end());
      const size_t pos = static_cast<size_t>(it - window.begin());
      CHECK((pos >= last));  // rank order kept
      last = pos + 1;
    }
  }
  o.select.seed = 6;
  mine_beir(model, b.dir, b.tmp / "c.jsonl", o);
  CHECK(slurp(b.tmp / "a.jsonl") != slurp(b.tmp / "c.jsonl"));
  o.select.seed = 5;
  mine_beir(model, b.dir, b.tmp / "d.jsonl", o);
  CHECK(slurp(b.tmp / "a.jsonl") == slurp(b.tmp / "d.jsonl"));
}

TEST_CASE("mine: a near duplicate of the positive is dropped by margin and max score", "[mine]") {
  TinyBeir b;
  const Model model = Model::load(test::fixture_dir("tiny-bert"));
  MineOptions o = base_options();
  o.select.num_negatives = 29;  // every candidate, to find the near duplicate's score
  o.select.range_max = 29;
  mine_beir(model, b.dir, b.tmp / "plain.jsonl", o);
  const Rec q0 = read_records(b.tmp / "plain.jsonl")[1];
  REQUIRE(q0.query_id == "q0");
  // The construction: "near" ranks among q0's candidates close to the positive's score.
  const auto it = std::find(q0.neg_ids.begin(), q0.neg_ids.end(), "near");
  REQUIRE(it != q0.neg_ids.end());
  const float near_score = q0.neg_scores[static_cast<size_t>(it - q0.neg_ids.begin())];
  INFO("positive " << q0.pos_score << ", near duplicate " << near_score);
  REQUIRE(std::fabs(near_score - q0.pos_score) < 0.02f);
  o.select.num_negatives = 5;

  SECTION("absolute margin") {
    o.select.absolute_margin = 0.02f;
    const MineStats st = mine_beir(model, b.dir, b.tmp / "m.jsonl", o);
    const Rec r = read_records(b.tmp / "m.jsonl")[1];
    CHECK(std::find(r.neg_ids.begin(), r.neg_ids.end(), "near") == r.neg_ids.end());
    for (const float s : r.neg_scores) CHECK(s + 0.02f <= r.pos_score);
    CHECK(st.select.dropped_absolute_margin >= 1);
  }
  SECTION("relative margin") {
    o.select.relative_margin = 0.05f;
    mine_beir(model, b.dir, b.tmp / "m.jsonl", o);
    const Rec r = read_records(b.tmp / "m.jsonl")[1];
    CHECK(std::find(r.neg_ids.begin(), r.neg_ids.end(), "near") == r.neg_ids.end());
    for (const float s : r.neg_scores) CHECK(s <= r.pos_score - std::fabs(r.pos_score) * 0.05f);
  }
  SECTION("max score") {
    const float s_max = near_score - 1e-4f;
    o.select.max_score = s_max;
    const MineStats st = mine_beir(model, b.dir, b.tmp / "m.jsonl", o);
    const auto recs = read_records(b.tmp / "m.jsonl");
    CHECK(std::find(recs[1].neg_ids.begin(), recs[1].neg_ids.end(), "near") ==
          recs[1].neg_ids.end());
    for (const auto& r : recs)
      for (const float s : r.neg_scores) CHECK(s <= s_max);
    CHECK(st.select.dropped_max_score >= 1);
  }
}

TEST_CASE("mine: a later qrels row for the same pair replaces the earlier one", "[mine]") {
  TinyBeir b;
  const Model model = Model::load(test::fixture_dir("tiny-bert"));
  MineOptions o = base_options();
  const fs::path out = b.tmp / "out.jsonl";
  // q0's pair is taken back (score 0 on a later row): only q1's record is left.
  put(b.dir / "qrels/train.tsv", "q0\td3\t1\nq1\td5\t1\nq0\td3\t0\n");
  MineStats st = mine_beir(model, b.dir, out, o);
  CHECK(st.records == 1);
  CHECK(st.skipped_superseded == 1);
  CHECK(st.skipped_not_positive == 1);
  CHECK(read_records(out).at(0).query_id == "q1");
  // Repeated with a positive score: one record, at the position of the last row.
  put(b.dir / "qrels/train.tsv", "q0\td3\t1\nq1\td5\t1\nq0\td3\t2\n");
  st = mine_beir(model, b.dir, out, o);
  CHECK(st.records == 2);
  const auto recs = read_records(out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].query_id == "q1");
  CHECK(recs[1].query_id == "q0");
  CHECK(recs[1].pos_id == "d3");
}

TEST_CASE("mine: errors leave no output", "[mine]") {
  TinyBeir b;
  const Model model = Model::load(test::fixture_dir("tiny-bert"));
  MineOptions o = base_options();
  const fs::path out = b.tmp / "out.jsonl";
  // Filters that leave nothing: every record is written, without negatives.
  o.select.min_score = 1.5f;
  const MineStats none = mine_beir(model, b.dir, out, o);
  CHECK(none.records == 7);
  CHECK(none.records_short == 7);
  CHECK(none.records_without_negatives == 7);
  CHECK(none.select.short_queries == 5);
  CHECK(TrainDataset::open(out).size() == 7);
  o = base_options();
  put(out, "keep");
  o.split = "dev";
  CHECK_THROWS_WITH(mine_beir(model, b.dir, out, o), Contains("qrels/dev.tsv: no such file"));
  o.split = "train";
  o.select.num_negatives = -2;
  CHECK_THROWS_WITH(mine_beir(model, b.dir, out, o), Contains("num_negatives must be >= 0"));
  o = base_options();
  put(b.dir / "qrels/train.tsv", "q0\td3\t1\nq1\tmissing\t1\n");
  CHECK_THROWS_WITH(mine_beir(model, b.dir, out, o),
                    Contains("train.tsv:2: corpus-id \"missing\" is not in corpus.jsonl"));
  put(b.dir / "qrels/train.tsv", "q0\td3\t0\n");
  CHECK_THROWS_WITH(mine_beir(model, b.dir, out, o), Contains("no positive judgements"));
  CHECK(slurp(out) == "keep");
}

// ------------------------------------------------------------------------------------------
// The app

TEST_CASE("mine: sbert-mine end to end and its errors", "[mine][apps]") {
  TinyBeir b;
  const std::string model = test::fixture_dir("tiny-bert").string();
  const fs::path out = b.tmp / "mined.jsonl";
  const std::vector<std::string> base = {"--model",  model,        "--beir",    b.dir.string(),
                                         "--output", out.string(), "--threads", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto r = test::run_app("sbert-mine",
                         with({"--num-negatives", "2", "--range-min", "1", "--range-max", "10",
                               "--relative-margin", "0.05", "--sample", "random", "--seed", "3"}));
  INFO("stderr: " << r.stderr_text);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.stderr_text, Contains("7 records (one per positive pair) for 5 queries"));
  CHECK_THAT(r.stderr_text, Contains("false-negative filter"));
  CHECK(TrainDataset::open(out).size() == 7);
  const std::string mined = slurp(out);

  // Usage errors (exit 2), checked before the model loads; the output is left alone.
  put(out, "keep");
  auto usage = [&](std::vector<std::string> extra, const std::string& what) {
    const auto e = test::run_app("sbert-mine", with(extra));
    INFO("stderr: " << e.stderr_text);
    CHECK(e.exit_code == 2);
    CHECK_THAT(e.stderr_text, Contains("sbert-mine: error: "));
    CHECK_THAT(e.stderr_text, Contains(what));
    CHECK(std::count(e.stderr_text.begin(), e.stderr_text.end(), '\n') == 1);
  };
  usage({"--num-negatives", "-1"}, "num_negatives must be >= 0");
  usage({"--num-negatives", "2", "--range-min", "9", "--range-max", "4"},
        "range_min (9) must not exceed range_max (4)");
  usage({"--num-negatives", "6", "--range-min", "0", "--range-max", "4"},
        "cannot take 6 negatives");
  usage({"--num-negatives", "2", "--sample", "best"}, "--sample must be top or random");
  usage({"--num-negatives", "2", "--margin", "abc"}, "expects a number");
  usage({}, "missing required option --num-negatives");
  CHECK(slurp(out) == "keep");

  // Data errors (exit 1), one line naming the file.
  auto data_error = [&](std::vector<std::string> extra, const std::string& what) {
    const auto e = test::run_app("sbert-mine", with(extra));
    INFO("stderr: " << e.stderr_text);
    CHECK(e.exit_code == 1);
    CHECK_THAT(e.stderr_text, Contains(what));
    CHECK(std::count(e.stderr_text.begin(), e.stderr_text.end(), '\n') == 1);
  };
  data_error({"--num-negatives", "2", "--split", "test"}, "qrels/test.tsv: no such file");
  put(b.dir / "qrels/bad.tsv", "q0\td3\t1\nq1\td99\t1\n");
  data_error({"--num-negatives", "2", "--split", "bad"},
             "bad.tsv:2: corpus-id \"d99\" is not in corpus.jsonl");
  CHECK(slurp(out) == "keep");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(b.tmp.path())) ++files;
  CHECK(files == 2);  // beir/ and the output: no temporary left behind

  // Same command, same bytes.
  r = test::run_app("sbert-mine", with({"--num-negatives", "2", "--range-min", "1", "--range-max",
                                        "10", "--relative-margin", "0.05", "--sample", "random",
                                        "--seed", "3", "--query-chunk", "1", "--doc-chunk", "5"}));
  REQUIRE(r.exit_code == 0);
  CHECK(slurp(out) == mined);
}
