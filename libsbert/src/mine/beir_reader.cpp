#include "mine/beir_reader.h"

#include <simdjson.h>

#include <charconv>
#include <set>
#include <string_view>
#include <utility>

#include "core/check.h"
#include "core/utf8.h"
#include "io/atomic_file.h"

namespace sbert::mine {

namespace fs = std::filesystem;

namespace {

// Calls fn(line, lineno) for each non-blank line ("\r" before "\n" dropped, BOM skipped).
template <class Fn>
void for_each_line(const fs::path& file, const std::string& content, Fn&& fn) {
  size_t start = 0;
  int64_t lineno = 1;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (lineno == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      const size_t bad = find_invalid_utf8(line);
      SBERT_CHECK(bad == std::string_view::npos, "[beir] ", file.string(), ":", lineno,
                  ": not valid UTF-8 (byte ", bad + 1, " of the line)");
      fn(line, lineno);
    }
    start = end + 1;
    ++lineno;
  }
}

std::string_view string_field(simdjson::dom::object obj, const char* key, bool required,
                              const fs::path& file, int64_t lineno) {
  simdjson::dom::element v;
  if (obj[key].get(v)) {
    SBERT_CHECK(!required, "[beir] ", file.string(), ":", lineno, ": missing field \"", key,
                "\"");
    return {};
  }
  std::string_view s;
  SBERT_CHECK(!v.get(s), "[beir] ", file.string(), ":", lineno, ": field \"", key,
              "\" must be a string");
  return s;
}

// Reads a JSONL file of records with "_id" and the given string fields.
template <class Fn>
void read_jsonl(const fs::path& file, Fn&& fn) {
  SBERT_CHECK(fs::is_regular_file(file), "[beir] ", file.string(), ": no such file");
  const std::string content = read_file(file);
  simdjson::dom::parser parser;
  for_each_line(file, content, [&](std::string_view line, int64_t lineno) {
    simdjson::dom::element doc;
    const auto err = parser.parse(line.data(), line.size()).get(doc);
    SBERT_CHECK(!err, "[beir] ", file.string(), ":", lineno, ": not valid JSON (",
                simdjson::error_message(err), ")");
    simdjson::dom::object obj;
    SBERT_CHECK(!doc.get(obj), "[beir] ", file.string(), ":", lineno,
                ": expected a JSON object");
    simdjson::dom::element idv;
    SBERT_CHECK(!obj["_id"].get(idv), "[beir] ", file.string(), ":", lineno,
                ": missing field \"_id\"");
    std::string id;
    std::string_view ids;
    int64_t idi = 0;
    if (!idv.get(ids)) {
      id = ids;
    } else if (!idv.get(idi)) {
      id = std::to_string(idi);  // some BEIR exports write numeric ids
    } else {
      fail("[beir] ", file.string(), ":", lineno, ": field \"_id\" must be a string");
    }
    SBERT_CHECK(!id.empty(), "[beir] ", file.string(), ":", lineno, ": empty \"_id\"");
    fn(std::move(id), obj, lineno);
  });
}

}  // namespace

std::string BeirCorpus::document(int64_t i) const {
  const std::string& title = titles.at(static_cast<size_t>(i));
  const std::string& text = texts.at(static_cast<size_t>(i));
  if (title.empty()) return text;
  if (text.empty()) return title;
  std::string out;
  out.reserve(title.size() + 1 + text.size());
  out.append(title);
  out.push_back(' ');
  out.append(text);
  return out;
}

BeirCorpus read_beir_corpus(const fs::path& file) {
  BeirCorpus c;
  read_jsonl(file, [&](std::string id, simdjson::dom::object obj, int64_t lineno) {
    const auto [it, inserted] = c.index.emplace(id, c.size());
    SBERT_CHECK(inserted, "[beir] ", file.string(), ":", lineno, ": duplicate document id '",
                id, "'");
    c.titles.emplace_back(string_field(obj, "title", false, file, lineno));
    c.texts.emplace_back(string_field(obj, "text", true, file, lineno));
    c.ids.push_back(std::move(id));
  });
  SBERT_CHECK(c.size() > 0, "[beir] ", file.string(), ": no documents");
  return c;
}

BeirQueries read_beir_queries(const fs::path& file) {
  BeirQueries q;
  read_jsonl(file, [&](std::string id, simdjson::dom::object obj, int64_t lineno) {
    const auto [it, inserted] = q.index.emplace(id, q.size());
    SBERT_CHECK(inserted, "[beir] ", file.string(), ":", lineno, ": duplicate query id '", id,
                "'");
    q.texts.emplace_back(string_field(obj, "text", true, file, lineno));
    q.ids.push_back(std::move(id));
  });
  SBERT_CHECK(q.size() > 0, "[beir] ", file.string(), ": no queries");
  return q;
}

std::vector<Qrel> read_beir_qrels(const fs::path& file) {
  SBERT_CHECK(fs::is_regular_file(file), "[beir] ", file.string(), ": no such file");
  const std::string content = read_file(file);
  std::vector<Qrel> out;
  std::set<std::pair<std::string, std::string>> seen;
  bool first = true;
  for_each_line(file, content, [&](std::string_view line, int64_t lineno) {
    std::vector<std::string_view> f;
    size_t s = 0;
    while (true) {
      const size_t tab = line.find('\t', s);
      f.push_back(line.substr(s, tab == std::string_view::npos ? std::string_view::npos : tab - s));
      if (tab == std::string_view::npos) break;
      s = tab + 1;
    }
    SBERT_CHECK(f.size() == 3, "[beir] ", file.string(), ":", lineno,
                ": expected 3 tab-separated fields (query-id, corpus-id, score), got ",
                f.size());
    int score = 0;
    const auto [ptr, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), score);
    const bool is_int = ec == std::errc() && ptr == f[2].data() + f[2].size();
    if (first) {
      first = false;
      if (!is_int) return;  // header line ("query-id corpus-id score")
    }
    SBERT_CHECK(is_int, "[beir] ", file.string(), ":", lineno, ": score '", f[2],
                "' is not an integer");
    SBERT_CHECK(!f[0].empty() && !f[1].empty(), "[beir] ", file.string(), ":", lineno,
                ": empty query or document id");
    Qrel q{std::string(f[0]), std::string(f[1]), score, lineno};
    SBERT_CHECK(seen.emplace(q.query_id, q.doc_id).second, "[beir] ", file.string(), ":",
                lineno, ": duplicate pair (query '", q.query_id, "', document '", q.doc_id,
                "')");
    out.push_back(std::move(q));
  });
  SBERT_CHECK(!out.empty(), "[beir] ", file.string(), ": no judgements");
  return out;
}

BeirDataset read_beir(const fs::path& dir, const std::string& split) {
  SBERT_CHECK(fs::is_directory(dir), "[beir] ", dir.string(), ": no such folder");
  SBERT_CHECK(!split.empty() && split.find('/') == std::string::npos, "[beir] bad split name '",
              split, "'");
  BeirDataset d;
  const fs::path qrels_file = dir / "qrels" / (split + ".tsv");
  // The small files first, so a wrong split fails before the corpus is read.
  d.qrels = read_beir_qrels(qrels_file);
  d.queries = read_beir_queries(dir / "queries.jsonl");
  d.corpus = read_beir_corpus(dir / "corpus.jsonl");
  for (const Qrel& q : d.qrels) {
    SBERT_CHECK(d.queries.index.count(q.query_id), "[beir] ", qrels_file.string(), ":", q.line,
                ": query '", q.query_id, "' is not in queries.jsonl");
    SBERT_CHECK(d.corpus.index.count(q.doc_id), "[beir] ", qrels_file.string(), ":", q.line,
                ": document '", q.doc_id, "' is not in the corpus");
  }
  return d;
}

}  // namespace sbert::mine
