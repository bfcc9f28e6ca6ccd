#include "eval/beir.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "core/check.h"
#include "data/texts.h"

namespace sbert::eval {

namespace fs = std::filesystem;

namespace {

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t") == std::string::npos;
}

// Python's str.isspace() characters, UTF-8 encoded.
constexpr std::string_view kPySpaces[] = {
    "\t", "\n", "\v", "\f", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ",
    "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
    "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000"};

// "file:line: " for messages.
std::string where(const fs::path& file, size_t line) { return cat(file.string(), ":", line, ": "); }

// A record's id: a JSON string, or an integer written in decimal.
std::string json_id(simdjson::dom::element doc, const fs::path& file, size_t line) {
  simdjson::dom::element v;
  SBERT_CHECK(!doc["_id"].get(v), "[eval] ", where(file, line), "missing field \"_id\"");
  std::string_view s;
  if (!v.get(s)) {
    SBERT_CHECK(!s.empty(), "[eval] ", where(file, line), "empty \"_id\"");
    return std::string(s);
  }
  int64_t i = 0;
  if (!v.get(i)) return std::to_string(i);
  fail("[eval] ", where(file, line), "\"_id\" is neither a string nor an integer");
}

// A string field; absent or null gives `fallback` when optional.
std::string json_string(simdjson::dom::element doc, const char* field, bool required,
                        const fs::path& file, size_t line) {
  simdjson::dom::element v;
  if (doc[field].get(v) || v.is_null()) {
    SBERT_CHECK(!required, "[eval] ", where(file, line), "missing field \"", field, "\"");
    return {};
  }
  std::string_view s;
  SBERT_CHECK(!v.get(s), "[eval] ", where(file, line), "field \"", field, "\" is not a string");
  return std::string(s);
}

// Parses each non-blank line of a JSONL file as an object and calls fn(object, line number).
template <class Fn>
void for_each_jsonl(const fs::path& file, Fn&& fn) {
  SBERT_CHECK(fs::exists(file), "[eval] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  simdjson::dom::parser parser;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    simdjson::dom::element doc;
    const auto err = parser.parse(lines[i]).get(doc);
    SBERT_CHECK(!err, "[eval] ", where(file, i + 1), "not valid JSON (",
                simdjson::error_message(err), ")");
    SBERT_CHECK(doc.is_object(), "[eval] ", where(file, i + 1), "expected a JSON object");
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
    SBERT_CHECK(fresh, "[eval] ", where(file, line), "duplicate _id \"", d.id, "\" (first at line ",
                it->second, ")");
    docs.push_back(std::move(d));
  });
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
    SBERT_CHECK(fresh, "[eval] ", where(file, line), "duplicate _id \"", q.id, "\" (first at line ",
                it->second, ")");
    queries.push_back(std::move(q));
  });
  return queries;
}

std::vector<BeirQrel> read_beir_qrels(const fs::path& file) {
  SBERT_CHECK(fs::exists(file), "[eval] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  std::vector<BeirQrel> qrels;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    const auto cols = split_tabs(lines[i]);
    double score = 0;
    // The header ("query-id  corpus-id  score"): a first line whose score is not a number.
    if (i == 0 && cols.size() == 3 && !parse_number(cols[2], score)) continue;
    SBERT_CHECK(cols.size() == 3, "[eval] ", where(file, i + 1),
                "expected 3 tab-separated columns (query-id, corpus-id, score), got ",
                cols.size());
    SBERT_CHECK(!cols[0].empty() && !cols[1].empty(), "[eval] ", where(file, i + 1),
                "empty query-id or corpus-id");
    SBERT_CHECK(parse_number(cols[2], score), "[eval] ", where(file, i + 1), "score \"",
                std::string(cols[2]), "\" is not a number");
    qrels.push_back({std::string(cols[0]), std::string(cols[1]), score});
  }
  return qrels;
}

BeirData assemble_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                       const std::vector<BeirQrel>& qrels) {
  BeirData data;
  std::unordered_map<std::string, int64_t> doc_index;
  doc_index.reserve(corpus.size());
  data.corpus_ids.reserve(corpus.size());
  data.corpus_texts.reserve(corpus.size());
  for (BeirDoc& d : corpus) {
    SBERT_CHECK(doc_index.emplace(d.id, static_cast<int64_t>(data.corpus_ids.size())).second,
                "[eval] duplicate corpus id \"", d.id, "\"");
    std::string joined = std::move(d.title);
    joined += ' ';
    joined += d.text;
    data.corpus_texts.push_back(py_strip(joined));
    data.corpus_ids.push_back(std::move(d.id));
    d.text = std::string();
  }
  std::unordered_map<std::string, size_t> query_index;
  for (size_t i = 0; i < queries.size(); ++i) {
    SBERT_CHECK(query_index.emplace(queries[i].id, i).second, "[eval] duplicate query id \"",
                queries[i].id, "\"");
  }
  data.queries_read = static_cast<int64_t>(queries.size());
  data.qrels_read = static_cast<int64_t>(qrels.size());

  // query -> (doc id -> score), the last line for a pair winning (a dict, as in BEIR).
  std::vector<std::map<std::string, double>> judged(queries.size());
  for (const BeirQrel& r : qrels) {
    const auto q = query_index.find(r.query_id);
    if (q == query_index.end()) {
      ++data.qrels_unknown_query;
      continue;
    }
    judged[q->second][r.doc_id] = r.score;
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    Relevance rel;
    for (const auto& [doc, score] : judged[i]) {
      if (!(score > 0)) {
        ++data.qrels_not_relevant;
        continue;
      }
      ++rel.count;
      const auto d = doc_index.find(doc);
      if (d == doc_index.end()) {
        ++data.qrels_unknown_doc;
      } else {
        rel.docs.push_back(d->second);
      }
    }
    if (rel.count == 0) {
      ++data.queries_skipped;
      continue;
    }
    data.query_ids.push_back(std::move(queries[i].id));
    data.query_texts.push_back(std::move(queries[i].text));
    data.relevance.push_back(std::move(rel));
  }
  return data;
}

BeirData read_beir(const fs::path& dir, const std::string& split) {
  SBERT_CHECK(fs::is_directory(dir), "[eval] ", dir.string(),
              ": not a folder (a BEIR data set is a folder with corpus.jsonl, queries.jsonl and "
              "qrels/<split>.tsv)");
  SBERT_CHECK(!split.empty() && split.find('/') == std::string::npos, "[eval] bad split name \"",
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
    fail("[eval] ", qrels_file.string(), ": no such file (splits here: ",
         have.empty() ? std::string("none") : have, ")");
  }
  auto corpus = read_beir_corpus(dir / "corpus.jsonl");
  auto queries = read_beir_queries(dir / "queries.jsonl");
  const auto qrels = read_beir_qrels(qrels_file);
  BeirData data = assemble_beir(std::move(corpus), std::move(queries), qrels);
  SBERT_CHECK(!data.query_ids.empty(), "[eval] ", qrels_file.string(),
              ": no query of queries.jsonl has a relevant document (score > 0) in this split");
  return data;
}

}  // namespace sbert::eval
