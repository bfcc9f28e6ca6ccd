// A small reader for BEIR folders (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), used by
// hard-negative mining. (The evaluation code has its own; they are to be unified.)
//
//   corpus.jsonl   {"_id": str, "title": str (optional), "text": str, ...}   one per line
//   queries.jsonl  {"_id": str, "text": str, ...}                              one per line
//   qrels/S.tsv    query-id <TAB> corpus-id <TAB> score (integer); an optional header line
//                  (a first line whose score is not an integer); "\r\n" or "\n"
//
// Rules: ids are strings, unique within a file; blank lines are skipped; a UTF-8 BOM at the
// start is skipped; every error is one line naming file:line ("[beir] .../qrels/train.tsv:7:
// document '123' is not in the corpus").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace sbert::mine {

struct BeirCorpus {
  std::vector<std::string> ids, titles, texts;
  std::unordered_map<std::string, int64_t> index;  // id -> row
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  // The document as training and mining see it: "title text"; just the text when the title is
  // empty, just the title when the text is empty (BEIR / sentence-transformers convention,
  // (title + " " + text).strip() for the usual non-blank fields).
  std::string document(int64_t i) const;
};

struct BeirQueries {
  std::vector<std::string> ids, texts;
  std::unordered_map<std::string, int64_t> index;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

struct Qrel {
  std::string query_id, doc_id;
  int score = 0;
  int64_t line = 0;  // 1-based line in the file, for messages
};

BeirCorpus read_beir_corpus(const std::filesystem::path& file);
BeirQueries read_beir_queries(const std::filesystem::path& file);
// Every row, in file order; throws on malformed rows and on duplicate (query, doc) pairs.
std::vector<Qrel> read_beir_qrels(const std::filesystem::path& file);

// <dir>/corpus.jsonl, <dir>/queries.jsonl, <dir>/qrels/<split>.tsv, with the ids of the qrels
// checked against the corpus and the queries.
struct BeirDataset {
  BeirCorpus corpus;
  BeirQueries queries;
  std::vector<Qrel> qrels;
};
BeirDataset read_beir(const std::filesystem::path& dir, const std::string& split);

}  // namespace sbert::mine
