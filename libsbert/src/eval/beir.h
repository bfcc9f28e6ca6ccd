// BEIR retrieval data sets: a folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv.
// The one reader of the library: evaluation (sbert-eval, the trainer's BEIR validation) and
// hard-negative mining (sbert-mine) both read through it.
//
//   corpus.jsonl    {"_id": "4983", "title": "...", "text": "..."} per line ("title" optional)
//   queries.jsonl   {"_id": "1", "text": "..."} per line (other fields ignored)
//   qrels/test.tsv  header "query-id<TAB>corpus-id<TAB>score", then one judgement per line
//
// Lines may end in "\n" or "\r\n"; blank lines are skipped; a UTF-8 BOM is ignored; every error
// names file:line. Rules (docs/evaluation.md):
//   - a document's text is (title + " " + text) with Python-str.strip() whitespace removed from
//     both ends (BeirSet::document);
//   - duplicate _id in corpus.jsonl or queries.jsonl is an error; an empty corpus, queries or
//     qrels file is an error naming the file;
//   - strict by default: a qrel naming a query or document that is not in queries.jsonl /
//     corpus.jsonl is an error naming qrels file:line and the id. With
//     BeirOptions::allow_unknown_ids, sentence-transformers' InformationRetrievalEvaluator's
//     behaviour instead: a relevant qrel to an absent document still counts as relevant
//     (recall, IDCG and MAP denominators) but can never be retrieved; a qrel to an absent query
//     is ignored. Both are counted.
// For evaluation (BeirData) additionally:
//   - a (query, doc) pair is relevant when its score is > 0; a later line for the same pair
//     replaces an earlier one (a dict, as in BEIR);
//   - only queries with at least one relevant document are evaluated (in queries.jsonl order);
//     none at all is an error naming the qrels file.
#pragma once

#include "sbert/eval.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eval/metrics.h"

namespace sbert::eval {


// The pieces, each one file (the path is used for messages). Every record in file order; an
// empty file (no record) is an error.
std::vector<BeirDoc> read_beir_corpus(const std::filesystem::path& file);
std::vector<BeirQuery> read_beir_queries(const std::filesystem::path& file);
std::vector<BeirQrel> read_beir_qrels(const std::filesystem::path& file);

// The three files as read, with id -> row indexes and the qrels' ids checked (strict unless
// allow_unknown_ids). What hard-negative mining works on.
struct BeirSet {
  std::vector<BeirDoc> corpus;
  std::vector<BeirQuery> queries;
  std::vector<BeirQrel> qrels;                         // every judgement line, file order
  std::unordered_map<std::string, int64_t> doc_row;    // corpus id -> row of `corpus`
  std::unordered_map<std::string, int64_t> query_row;  // query id -> row of `queries`
  std::string qrels_name;                              // the qrels file, for messages

  // (title + " " + text).strip(), the text BEIR and sentence-transformers embed.
  std::string document(int64_t row) const;
  // Row of an id, or -1.
  int64_t find_doc(const std::string& id) const;
  int64_t find_query(const std::string& id) const;
};

// Indexes parsed pieces: throws on duplicate ids and, unless allow_unknown_ids, on a qrel naming
// an absent id ("<qrels_name>:<line>: corpus-id "x" is not in corpus.jsonl").
BeirSet index_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                   std::vector<BeirQrel> qrels, const BeirOptions& options = {},
                   std::string qrels_name = "qrels");

// Reads and indexes <dir>/qrels/<split>.tsv, <dir>/queries.jsonl and <dir>/corpus.jsonl (the
// small files first, so a wrong split fails before the corpus is read).
BeirSet read_beir_set(const std::filesystem::path& dir, const std::string& split,
                      const BeirOptions& options = {});


// The evaluation set of an indexed BEIR set (its texts are moved out). Throws, naming the qrels
// file, when no query has a relevant document.
BeirData evaluation_set(BeirSet set);



// Python's str.strip(): removes leading and trailing Unicode whitespace (str.isspace).
std::string py_strip(std::string_view s);

}  // namespace sbert::eval
