#include "eval/beir.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "core/check.h"
#include "core/json_read.h"
#include "data/texts.h"

namespace sbert::eval {

namespace fs = std::filesystem;

namespace {

bool blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

// Python's str.isspace() characters, UTF-8 encoded.
constexpr std::string_view kPySpaces[] = {
    "\t",     "\n",     "\v",     "\f",     "\r",     "\x1c",   "\x1d",   "\x1e",
    "\x1f",   " ",      "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002",
    "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"};

// "file:line: " for messages.
std::string where(const fs::path& file, size_t line) { return cat(file.string(), ":", line, ": "); }

// A record's id: a JSON string, or an integer written in decimal.
std::string json_id(simdjson::dom::element doc, const fs::path& file, size_t line) {
  simdjson::dom::element v;
  SBERT_CHECK(!doc["_id"].get(v), "[beir] ", where(file, line), "missing field \"_id\"");
  std::string_view s;
  if (!v.get(s)) {
    SBERT_CHECK(!s.empty(), "[beir] ", where(file, line), "empty \"_id\"");
    return std::string(s);
  }
  int64_t i = 0;
  if (!v.get(i)) return std::to_string(i);
  fail("[beir] ", where(file, line), "\"_id\" is neither a string nor an integer (",
       json_type_name(v), ")");
}

// A string field; absent or null gives `fallback` when optional.
std::string json_string(simdjson::dom::element doc, const char* field, bool required,
                        const fs::path& file, size_t line) {
  simdjson::dom::element v;
  if (doc[field].get(v) || v.is_null()) {
    SBERT_CHECK(!required, "[beir] ", where(file, line), "missing field \"", field, "\"");
    return {};
  }
  std::string_view s;
  SBERT_CHECK(!v.get(s), "[beir] ", where(file, line), "field \"", field, "\" is not a string (",
              json_type_name(v), ")");
  return std::string(s);
}

// Parses each non-blank line of a JSONL file as an object and calls fn(object, line number).
template <class Fn>
void for_each_jsonl(const fs::path& file, Fn&& fn) {
  SBERT_CHECK(fs::exists(file), "[beir] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    simdjson::dom::element doc;
    const auto err = parse_json(lines[i], parser, storage, doc);
    SBERT_CHECK(!err, "[beir] ", where(file, i + 1), "not valid JSON (",
                simdjson::error_message(err), ")");
    SBERT_CHECK(doc.is_object(), "[beir] ", where(file, i + 1), "expected a JSON object, got ",
                json_type_name(doc));
    fn(doc, i + 1);
  }
}

bool parse_number(std::string_view s, double& out) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> cols;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      cols.push_back(line.substr(start));
      return cols;
    }
    cols.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

}  // namespace

std::string py_strip(std::string_view s) {
  bool changed = true;
  while (changed && !s.empty()) {
    changed = false;
    for (std::string_view sp : kPySpaces) {
      if (s.substr(0, sp.size()) == sp) {
        s.remove_prefix(sp.size());
        changed = true;
        break;
      }
    }
  }
  changed = true;
  while (changed && !s.empty()) {
    changed = false;
    for (std::string_view sp : kPySpaces) {
      if (s.size() >= sp.size() && s.substr(s.size() - sp.size()) == sp) {
        s.remove_suffix(sp.size());
        changed = true;
        break;
      }
    }
  }
  return std::string(s);
}

std::vector<BeirDoc> read_beir_corpus(const fs::path& file) {
  std::vector<BeirDoc> docs;
  std::unordered_map<std::string, size_t> first_line;
  for_each_jsonl(file, [&](simdjson::dom::element doc, size_t line) {
    BeirDoc d;
    d.id = json_id(doc, file, line);
    d.title = json_string(doc, "title", false, file, line);
    d.text = json_string(doc, "text", true, file, line);
    const auto [it, fresh] = first_line.emplace(d.id, line);
    SBERT_CHECK(fresh, "[beir] ", where(file, line), "duplicate _id \"", d.id, "\" (first at line ",
                it->second, ")");
    docs.push_back(std::move(d));
  });
  SBERT_CHECK(!docs.empty(), "[beir] ", file.string(), ": no documents (the corpus is empty)");
  return docs;
}

std::vector<BeirQuery> read_beir_queries(const fs::path& file) {
  std::vector<BeirQuery> queries;
  std::unordered_map<std::string, size_t> first_line;
  for_each_jsonl(file, [&](simdjson::dom::element doc, size_t line) {
    BeirQuery q;
    q.id = json_id(doc, file, line);
    q.text = json_string(doc, "text", true, file, line);
    const auto [it, fresh] = first_line.emplace(q.id, line);
    SBERT_CHECK(fresh, "[beir] ", where(file, line), "duplicate _id \"", q.id, "\" (first at line ",
                it->second, ")");
    queries.push_back(std::move(q));
  });
  SBERT_CHECK(!queries.empty(), "[beir] ", file.string(), ": no queries");
  return queries;
}

std::vector<BeirQrel> read_beir_qrels(const fs::path& file) {
  SBERT_CHECK(fs::exists(file), "[beir] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  std::vector<BeirQrel> qrels;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    const auto cols = split_tabs(lines[i]);
    double score = 0;
    // The header ("query-id  corpus-id  score"): a first line whose score is not a number.
    if (i == 0 && cols.size() == 3 && !parse_number(cols[2], score)) continue;
    SBERT_CHECK(cols.size() == 3, "[beir] ", where(file, i + 1),
                "expected 3 tab-separated columns (query-id, corpus-id, score), got ", cols.size());
    SBERT_CHECK(!cols[0].empty() && !cols[1].empty(), "[beir] ", where(file, i + 1),
                "empty query-id or corpus-id");
    SBERT_CHECK(parse_number(cols[2], score), "[beir] ", where(file, i + 1), "score \"",
                std::string(cols[2]), "\" is not a number");
    qrels.push_back(
        {std::string(cols[0]), std::string(cols[1]), score, static_cast<int64_t>(i + 1)});
  }
  SBERT_CHECK(!qrels.empty(), "[beir] ", file.string(), ": no judgements");
  return qrels;
}

std::string BeirSet::document(int64_t row) const {
  const BeirDoc& d = corpus.at(static_cast<size_t>(row));
  std::string joined;
  joined.reserve(d.title.size() + 1 + d.text.size());
  joined += d.title;
  joined += ' ';
  joined += d.text;
  return py_strip(joined);
}

int64_t BeirSet::find_doc(const std::string& id) const {
  const auto it = doc_row.find(id);
  return it == doc_row.end() ? -1 : it->second;
}

int64_t BeirSet::find_query(const std::string& id) const {
  const auto it = query_row.find(id);
  return it == query_row.end() ? -1 : it->second;
}

BeirSet index_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                   std::vector<BeirQrel> qrels, const BeirOptions& options,
                   std::string qrels_name) {
  BeirSet s;
  s.corpus = std::move(corpus);
  s.queries = std::move(queries);
  s.qrels = std::move(qrels);
  s.qrels_name = std::move(qrels_name);
  s.doc_row.reserve(s.corpus.size());
  for (size_t i = 0; i < s.corpus.size(); ++i) {
    SBERT_CHECK(s.doc_row.emplace(s.corpus[i].id, static_cast<int64_t>(i)).second,
                "[beir] duplicate corpus id \"", s.corpus[i].id, "\"");
  }
  s.query_row.reserve(s.queries.size());
  for (size_t i = 0; i < s.queries.size(); ++i) {
    SBERT_CHECK(s.query_row.emplace(s.queries[i].id, static_cast<int64_t>(i)).second,
                "[beir] duplicate query id \"", s.queries[i].id, "\"");
  }
  if (!options.allow_unknown_ids) {
    for (const BeirQrel& r : s.qrels) {
      const std::string at = r.line > 0 ? cat(s.qrels_name, ":", r.line) : s.qrels_name;
      SBERT_CHECK(s.query_row.count(r.query_id), "[beir] ", at, ": query-id \"", r.query_id,
                  "\" is not in queries.jsonl");
      SBERT_CHECK(s.doc_row.count(r.doc_id), "[beir] ", at, ": corpus-id \"", r.doc_id,
                  "\" is not in corpus.jsonl");
    }
  }
  return s;
}

BeirSet read_beir_set(const fs::path& dir, const std::string& split, const BeirOptions& options) {
  SBERT_CHECK(fs::is_directory(dir), "[beir] ", dir.string(),
              ": not a folder (a BEIR data set is a folder with corpus.jsonl, queries.jsonl and "
              "qrels/<split>.tsv)");
  SBERT_CHECK(!split.empty() && split.find('/') == std::string::npos, "[beir] bad split name \"",
              split, "\"");
  const fs::path qrels_file = dir / "qrels" / (split + ".tsv");
  if (!fs::exists(qrels_file)) {
    std::string have;
    std::error_code ec;
    if (fs::is_directory(dir / "qrels")) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(dir / "qrels", ec)) {
        if (e.path().extension() == ".tsv") names.push_back(e.path().stem().string());
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        if (!have.empty()) have += ", ";
        have += n;
      }
    }
    fail("[beir] ", qrels_file.string(),
         ": no such file (splits here: ", have.empty() ? std::string("none") : have, ")");
  }
  auto qrels = read_beir_qrels(qrels_file);
  auto queries = read_beir_queries(dir / "queries.jsonl");
  auto corpus = read_beir_corpus(dir / "corpus.jsonl");
  return index_beir(std::move(corpus), std::move(queries), std::move(qrels), options,
                    qrels_file.string());
}

BeirData evaluation_set(BeirSet set) {
  BeirData data;
  data.queries_read = static_cast<int64_t>(set.queries.size());
  data.qrels_read = static_cast<int64_t>(set.qrels.size());
  data.corpus_texts.reserve(set.corpus.size());
  for (size_t i = 0; i < set.corpus.size(); ++i) {
    data.corpus_texts.push_back(set.document(static_cast<int64_t>(i)));
  }
  data.corpus_ids.reserve(set.corpus.size());
  for (BeirDoc& d : set.corpus) {
    data.corpus_ids.push_back(std::move(d.id));
    d = BeirDoc();
  }

  // query -> (doc id -> score), the last line for a pair winning (a dict, as in BEIR).
  std::vector<std::map<std::string, double>> judged(set.queries.size());
  for (const BeirQrel& r : set.qrels) {
    const int64_t q = set.find_query(r.query_id);
    if (q < 0) {
      ++data.qrels_unknown_query;
      continue;
    }
    judged[static_cast<size_t>(q)][r.doc_id] = r.score;
  }
  for (size_t i = 0; i < set.queries.size(); ++i) {
    Relevance rel;
    for (const auto& [doc, score] : judged[i]) {
      if (!(score > 0)) {
        ++data.qrels_not_relevant;
        continue;
      }
      ++rel.count;
      const int64_t d = set.find_doc(doc);
      if (d < 0) {
        ++data.qrels_unknown_doc;
      } else {
        rel.docs.push_back(d);
      }
    }
    if (rel.count == 0) {
      ++data.queries_skipped;
      continue;
    }
    data.query_ids.push_back(std::move(set.queries[i].id));
    data.query_texts.push_back(std::move(set.queries[i].text));
    data.relevance.push_back(std::move(rel));
  }
  SBERT_CHECK(!data.query_ids.empty(), "[beir] ", set.qrels_name,
              ": no query of queries.jsonl has a relevant document (score > 0) in this split");
  return data;
}

BeirData read_beir(const fs::path& dir, const std::string& split, const BeirOptions& options) {
  return evaluation_set(read_beir_set(dir, split, options));
}

BeirData assemble_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                       std::vector<BeirQrel> qrels, const BeirOptions& options) {
  return evaluation_set(
      index_beir(std::move(corpus), std::move(queries), std::move(qrels), options));
}

}  // namespace sbert::eval
