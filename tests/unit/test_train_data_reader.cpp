// The NeMo-format training reader: both layouts, every validation error, skip mode, streaming.
#include <catch2/catch.hpp>

#include <fstream>

#include "data/train_reader.h"
#include "sbert/error.h"
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

// A JSON string literal for s (quotes, backslashes and control characters escaped).
std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct Rec {
  std::string q, p;
  std::vector<std::string> n;
};

std::string object(const Rec& r, const std::string& extra = "") {
  std::string s = "{\"query\": "s + json_str(r.q) + extra + ", \"pos_doc\": "s + json_str(r.p) +
                  ", \"neg_doc\": [";
  for (size_t i = 0; i < r.n.size(); ++i) {
    if (i) s += ", ";
    s += json_str(r.n[i]);
  }
  return s + "]}";
}

std::string jsonl(const std::vector<Rec>& recs) {
  std::string s;
  for (const Rec& r : recs) s += object(r) + "\n";
  return s;
}

// Pretty-printed array, one field a line, as a NeMo user would write it.
std::string array(const std::vector<Rec>& recs) {
  std::string s = "[\n";
  for (size_t i = 0; i < recs.size(); ++i) {
    const Rec& r = recs[i];
    s += "  {\n    \"query\": "s + json_str(r.q) + ",\n    \"pos_doc\": "s + json_str(r.p) +
         ",\n    \"neg_doc\": [";
    for (size_t k = 0; k < r.n.size(); ++k) {
      if (k) s += ", ";
      s += json_str(r.n[k]);
    }
    s += "]\n  }";
    s += i + 1 < recs.size() ? ",\n" : "\n";
  }
  return s + "]\n";
}

void check_same(const TrainDataset& d, const std::vector<Rec>& recs) {
  REQUIRE(d.size() == recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    const TrainRecord r = d.record(i);
    CHECK(r.query == recs[i].q);
    CHECK(r.pos_doc == recs[i].p);
    CHECK(r.neg_docs == recs[i].n);
  }
}

// The error open() throws for a file holding `content`.
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

const std::vector<Rec> kTricky = {
    {"what is {json}?", "a format with [brackets] and \"quotes\"", {"n1", "n2 \\ backslash"}},
    {"q2 caf\xc3\xa9", "p2 \xf0\x9f\x98\x80 emoji", {}},
    {"q3, with comma", "p3\nwith newline", {"a", "b", "c", "d", "e"}},
};

}  // namespace

TEST_CASE("JSON array and JSONL give the same records", "[train-data]") {
  TempDir dir;
  const auto a = TrainDataset::open(write_file(dir, "a.json", array(kTricky)));
  const auto l = TrainDataset::open(write_file(dir, "l.jsonl", jsonl(kTricky)));
  CHECK(a.format() == TrainFileFormat::JsonArray);
  CHECK(l.format() == TrainFileFormat::Jsonl);
  check_same(a, kTricky);
  check_same(l, kTricky);
  CHECK(a.record_line(0) == 2);
  CHECK(a.record_line(1) == 7);
  CHECK(l.record_line(2) == 3);
  CHECK(a.stats().skipped == 0);

  // Compact array on one line, extra fields (nested, with brackets in strings) are ignored.
  std::string compact = "[";
  for (size_t i = 0; i < kTricky.size(); ++i) {
    if (i) compact += ",";
    compact += object(kTricky[i], ", \"meta\": {\"x\": [1, \"]}\"], \"y\": {}}");
  }
  compact += "]";
  check_same(TrainDataset::open(write_file(dir, "c.json", compact)), kTricky);
}

TEST_CASE("training files: BOM, CRLF and blank lines", "[train-data]") {
  TempDir dir;
  const std::string bom = "\xEF\xBB\xBF";
  check_same(TrainDataset::open(write_file(dir, "a.json", bom + array(kTricky))), kTricky);
  check_same(TrainDataset::open(write_file(dir, "l.jsonl", bom + jsonl(kTricky))), kTricky);

  std::string crlf = "\r\n"s + object(kTricky[0]) + "\r\n   \r\n\r\n"s + object(kTricky[1]) +
                     "\r\n"s + object(kTricky[2]);  // no final newline
  const auto d = TrainDataset::open(write_file(dir, "crlf.jsonl", crlf));
  check_same(d, kTricky);
  CHECK(d.record_line(0) == 2);
  CHECK(d.record_line(1) == 5);
  CHECK(d.record_line(2) == 6);
  CHECK(d.record_number(2) == 3);

  // Line numbers after blank lines reach the messages.
  CHECK_THAT(open_error(dir, "b.jsonl", "\n"s + object(kTricky[0]) + "\n\n{\"query\": 1}\n"),
             Contains(":record 2 (line 4): field 'query' must be a string, got an integer"));
}

TEST_CASE("bad training records are refused with file, record, line and field", "[train-data]") {
  TempDir dir;
  const std::string good = object({"q", "p", {"n"}});
  // Each bad record is record 2 on line 2 of a JSONL file.
  auto bad = [&](const std::string& record) {
    return open_error(dir, "bad.jsonl", good + "\n"s + record + "\n"s + good + "\n");
  };

  const std::string path = (dir / "bad.jsonl").string();
  CHECK(bad(R"({"query": "q", "pos_doc": "", "neg_doc": []})") ==
        "[train-data] "s + path + ":record 2 (line 2): field 'pos_doc' is empty");

  CHECK_THAT(bad(R"(["q", "p"])"), Contains(":record 2 (line 2): expected a JSON object, got an "
                                            "array"));
  CHECK_THAT(bad(R"("just a string")"), Contains("expected a JSON object, got a string"));
  CHECK_THAT(bad(R"({"pos_doc": "p", "neg_doc": []})"),
             Contains(":record 2 (line 2): missing field 'query'"));
  CHECK_THAT(bad(R"({"query": "q", "neg_doc": []})"), Contains("missing field 'pos_doc'"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": ["n"], "margins": [1, 2]})"),
             Contains(":record 2 (line 2): field 'margins' has 2 margins for 1 negatives"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "score": "high"})"),
             Contains("field 'score' must be a finite number, got a string"));
  CHECK_THAT(bad(R"({"query": null, "pos_doc": "p", "neg_doc": []})"),
             Contains("field 'query' must be a string, got null"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": 3, "neg_doc": []})"),
             Contains("field 'pos_doc' must be a string, got an integer"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": ["p"], "neg_doc": []})"),
             Contains("field 'pos_doc' must be a string, got an array"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": 5})"),
             Contains("field 'neg_doc' must be an array of strings, got an integer"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": null})"),
             Contains("field 'neg_doc' must be an array of strings, got null"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": ["a", null, "c"]})"),
             Contains(":record 2 (line 2): field 'neg_doc' item 2 of 3 must be a string, got "
                      "null"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": ["a", {"t": "b"}]})"),
             Contains("field 'neg_doc' item 2 of 2 must be a string, got an object"));
  CHECK_THAT(bad(R"({"query": "", "pos_doc": "p", "neg_doc": []})"),
             Contains("field 'query' is empty"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": " \t\n ", "neg_doc": []})"),
             Contains("field 'pos_doc' is only whitespace"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": ["a", ""]})"),
             Contains("field 'neg_doc' item 2 of 2 is empty"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": ["  "]})"),
             Contains("field 'neg_doc' item 1 of 1 is only whitespace"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "the doc", "neg_doc": ["x", " the doc "]})"),
             Contains("field 'neg_doc' item 2 of 2 is the same text as pos_doc"));
  CHECK_THAT(bad("{\"query\": \"q\", \"pos_doc\": \"p\xff\", \"neg_doc\": []}"),
             Contains(":record 2 (line 2): field 'pos_doc' is not valid UTF-8 (byte 29 of the "
                      "record)"));
  CHECK_THAT(bad("{\"query\": \"q\", \"pos_doc\": \"p\", \"neg_doc\": [\"\xc0\x80\"]}"),
             Contains("field 'neg_doc' is not valid UTF-8"));
  CHECK_THAT(bad(R"({"query": "q\ud800", "pos_doc": "p", "neg_doc": []})"),
             Contains(":record 2 (line 2): not valid JSON"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": []}})"),
             Contains(":record 2 (line 2): not valid JSON"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": [})"),
             Contains(":record 2 (line 2): not valid JSON"));
  CHECK_THAT(bad(R"({"query": "q", "pos_doc": "p", "neg_doc": []} trailing)"),
             Contains(":record 2 (line 2): not valid JSON"));
}

TEST_CASE("bad training file structure is refused", "[train-data]") {
  TempDir dir;
  const std::string good = object({"q", "p", {"n"}});
  CHECK_THAT(open_error(dir, "e.json", ""), Contains("e.json: the file is empty"));
  CHECK_THAT(open_error(dir, "e.json", " \n\t\n"), Contains("the file is empty"));
  CHECK_THAT(open_error(dir, "e.json", "[]"), Contains("e.json: no records"));
  CHECK_THAT(open_error(dir, "e.json", "\n\nquery,pos\n"),
             Contains("e.json:line 3: expected a JSON array ('[') or JSON Lines ('{') but the "
                      "file starts with 'q'"));
  // Truncated array: inside a record, and between records.
  CHECK_THAT(open_error(dir, "t.json", "[\n"s + good + ",\n{\"query\": \"q\", \"pos"),
             Contains("t.json:record 2 (line 3): truncated"));
  CHECK_THAT(open_error(dir, "t.json", "[\n"s + good + ",\n"),
             Contains("t.json:line 3: the file ends before the JSON array is closed (after "
                      "record 1)"));
  CHECK_THAT(open_error(dir, "t.json", "[\n"s + good + "\n"),
             Contains("the file ends inside this record"));
  // Trailing data after the array, trailing comma, unbalanced brace.
  CHECK_THAT(open_error(dir, "g.json", "["s + good + "]\n\n  x"),
             Contains("g.json:line 3: unexpected data after the end of the JSON array, starting "
                      "with 'x'"));
  CHECK_THAT(open_error(dir, "g.json", "["s + good + "]\n["s + good + "]"),
             Contains("unexpected data after the end of the JSON array"));
  CHECK_THAT(open_error(dir, "g.json", "["s + good + ",\n]"),
             Contains("g.json:line 2: expected a record after the ',' that follows record 1"));
  CHECK_THAT(open_error(dir, "g.json", "["s + good + ",\n"s + good + "}]"),
             Contains("g.json:record 2 (line 2): not valid JSON (unbalanced '}'"));
  CHECK_THAT(open_error(dir, "g.json", "["s + good + ", 7]"),
             Contains("g.json:record 2 (line 1): expected a JSON object, got an integer"));
  // A single object spanning lines is not JSONL.
  CHECK_THAT(open_error(dir, "o.json", "{\n  \"query\": \"q\"\n}\n"),
             Contains("o.json:record 1 (line 1): not valid JSON"));
  CHECK_THAT(open_error(dir, "missing/none.json", ""), Contains("none.json: cannot open"));
  // A BOM is not taken for data, but the rest is still checked.
  CHECK_THAT(open_error(dir, "b.json", "\xEF\xBB\xBF"), Contains("the file is empty"));
}

TEST_CASE("skip_bad_records skips and counts bad records", "[train-data]") {
  TempDir dir;
  TrainReaderOptions skip;
  skip.skip_bad_records = true;
  const std::vector<Rec> recs = {{"q1", "p1", {"n1"}}, {"q2", "p2", {}}, {"q3", "p3", {"a", "b"}}};
  const std::string content = object(recs[0]) + "\n" +
                              R"({"query": "", "pos_doc": "p", "neg_doc": []})"s + "\n" +
                              object(recs[1]) + "\nnot json\n\n"s + object(recs[2]) + "\n" +
                              R"({"query": "q", "pos_doc": "p", "score": "x"})"s + "\n";
  const auto d = TrainDataset::open(write_file(dir, "s.jsonl", content), skip);
  check_same(d, recs);
  CHECK(d.stats().records == 3);
  CHECK(d.stats().skipped == 3);
  CHECK_THAT(d.stats().first_skipped,
             Contains("s.jsonl:record 2 (line 2): field 'query' is empty"));
  CHECK(d.record_number(0) == 1);
  CHECK(d.record_number(1) == 3);
  CHECK(d.record_number(2) == 5);
  CHECK(d.record_line(2) == 6);
  // Without the option the same file is refused at record 2.
  CHECK_THAT(open_error(dir, "s.jsonl", content), Contains("record 2 (line 2)"));

  // Arrays too; structural errors stay fatal; a file of bad records only is refused.
  const auto a = TrainDataset::open(write_file(dir, "s.json",
                                               "["s + object(recs[0]) + ", {\"query\": 5}, 7, "s +
                                                   object(recs[1]) + ", "s + object(recs[2]) + "]"),
                                    skip);
  check_same(a, recs);
  CHECK(a.stats().skipped == 2);
  CHECK(a.record_number(1) == 4);
  CHECK_THAT(open_error(dir, "s.json", "["s + object(recs[0]) + "] x", skip),
             Contains("unexpected data after the end of the JSON array"));
  CHECK_THAT(open_error(dir, "s.jsonl", "{}\n[]\n", skip),
             Contains("s.jsonl: no good record: all 2 records are bad; the first: "));
}

TEST_CASE("a large training file is indexed without holding its texts", "[train-data]") {
  TempDir dir;
  // 2,000 records of ~3 KB each (6 MB): records straddle the reader's 1 MiB chunks.
  std::vector<Rec> recs;
  for (int i = 0; i < 2000; ++i) {
    const std::string pad(1000 + (i * 37) % 300, static_cast<char>('a' + i % 26));
    recs.push_back({"query "s + std::to_string(i) + " "s + pad,
                    "positive "s + std::to_string(i) + " "s + pad,
                    {"neg a "s + std::to_string(i) + pad, "neg b "s + pad}});
  }
  for (const bool as_array : {true, false}) {
    const auto p =
        write_file(dir, as_array ? "big.json" : "big.jsonl", as_array ? array(recs) : jsonl(recs));
    const auto d = TrainDataset::open(p);
    REQUIRE(d.size() == 2000);
    CHECK(d.stats().file_bytes == std::filesystem::file_size(p));
    CHECK(d.stats().file_bytes > 6'000'000);
    // 16 bytes a record, whatever the texts' length.
    CHECK(d.index_bytes() <= 2000 * 16 + 1024);
    TrainRecordScratch scratch;
    for (size_t i : {size_t{0}, size_t{777}, size_t{1999}}) {
      const TrainRecord r = d.record(i, scratch);
      CHECK(r.query == recs[i].q);
      CHECK(r.neg_docs == recs[i].n);
    }
    // Records are read on demand: shrink the file and the last record no longer reads back.
    std::filesystem::resize_file(p, d.stats().file_bytes / 2);
    CHECK(d.record(3).query == recs[3].q);
    CHECK_THROWS_WITH(d.record(1999), Contains(":record 2000 (line ") &&
                                          Contains("did the file change after it was indexed?"));
  }
}

TEST_CASE("several training files read as one list of records", "[train-data]") {
  TempDir dir;
  TrainReaderOptions skip;
  skip.skip_bad_records = true;
  const std::vector<Rec> a = {kTricky[0], kTricky[1]}, b = {kTricky[2], {"q", "p", {}}};
  const auto pa = write_file(dir, "a.json", array(a));
  const auto pb = write_file(dir, "b.jsonl", "{}\n" + jsonl(b));
  const auto d = TrainDataset::open({pa, pb}, skip);
  check_same(d, {a[0], a[1], b[0], b[1]});
  CHECK(d.num_files() == 2);
  CHECK(d.format(0) == TrainFileFormat::JsonArray);
  CHECK(d.format(1) == TrainFileFormat::Jsonl);
  CHECK(d.file_of(1) == 0);
  CHECK(d.file_of(2) == 1);
  CHECK(d.record_number(2) == 2);  // after the skipped "{}"
  CHECK(d.where(3) == pb.string() + ":record 3 (line 3)");
  CHECK(d.where(1) == pa.string() + ":record 2 (line 7)");
  CHECK(d.stats().records == 4);
  CHECK(d.stats().skipped == 1);
  CHECK(d.stats(0).skipped == 0);
  CHECK_THAT(d.stats().first_skipped, Contains("b.jsonl:record 1 (line 1): missing field"));
  CHECK(d.name() == pa.string() + " and 1 more files");
  CHECK_THROWS_WITH(TrainDataset::open({pa, pb}), Contains("b.jsonl:record 1 (line 1)"));
  CHECK_THROWS_WITH(TrainDataset::open(std::vector<std::filesystem::path>{}),
                    Contains("no training file given"));
}

TEST_CASE("record boundaries on the reader's 1 MiB chunk edges", "[train-data]") {
  TempDir dir;
  // The first record's query ends in an escaped quote and is followed by ',' / '\n' and a
  // second record; sliding its length over the chunk edge puts each structural byte (the
  // backslash, the escaped quote, the closing brackets, the comma or newline) on the edge.
  for (size_t len = (1u << 20) - 60; len < (1u << 20) - 5; ++len) {
    const std::vector<Rec> recs = {{std::string(len, 'a') + "\""s, "p", {"x"}}, {"q2", "p2", {}}};
    std::string compact_array = "[";
    compact_array += object(recs[0]) + "," + object(recs[1]) + "]";
    for (const std::string& content : {compact_array, jsonl(recs)}) {
      const auto d = TrainDataset::open(write_file(dir, "edge.json", content));
      REQUIRE(d.size() == 2);
      CHECK(d.record(0).query == recs[0].q);
      CHECK(d.record(1).query == "q2");
    }
  }
}
