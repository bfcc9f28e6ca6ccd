// BEIR retrieval data sets: a folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv.
//
//   corpus.jsonl    {"_id": "4983", "title": "...", "text": "..."} per line ("title" optional)
//   queries.jsonl   {"_id": "1", "text": "..."} per line (other fields ignored)
//   qrels/test.tsv  header "query-id<TAB>corpus-id<TAB>score", then one judgement per line
//
// Lines may end in "\n" or "\r\n"; blank lines are skipped; a UTF-8 BOM is ignored; every error
// names file:line. What is kept mirrors BEIR's GenericDataLoader + sentence-transformers'
// InformationRetrievalEvaluator (docs/evaluation.md):
//   - a document's text for embedding is (title + " " + text) with Python-str.strip()
//     whitespace removed from both ends;
//   - a (query, doc) pair is relevant when its score is > 0; a later line for the same pair
//     replaces an earlier one (a dict, as in BEIR);
//   - only queries with at least one relevant document are evaluated (in queries.jsonl order);
//   - a qrel naming a document absent from the corpus still counts as relevant (recall, IDCG
//     and MAP denominators) but can never be retrieved, as in ST and pytrec_eval; qrels naming
//     a query absent from queries.jsonl are ignored. Both are counted, not fatal.
//   - duplicate _id in corpus.jsonl or queries.jsonl is an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace sbert::eval {

struct BeirData {
  std::vector<std::string> corpus_ids;
  std::vector<std::string> corpus_texts;  // (title + " " + text).strip()
  std::vector<std::string> query_ids;     // evaluated queries only, in queries.jsonl order
  std::vector<std::string> query_texts;
  std::vector<Relevance> relevance;       // per evaluated query

  // What was read and what was left out.
  int64_t queries_read = 0;          // records in queries.jsonl
  int64_t queries_skipped = 0;       // queries without any relevant document in the split
  int64_t qrels_read = 0;            // judgement lines in the qrels file
  int64_t qrels_not_relevant = 0;    // (query, doc) pairs whose final score is <= 0
  int64_t qrels_unknown_query = 0;   // judgement lines naming a query not in queries.jsonl
  int64_t qrels_unknown_doc = 0;     // relevant pairs naming a document not in the corpus
};

struct BeirQrel {
  std::string query_id, doc_id;
  double score = 0;
};

// Reads <dir>/corpus.jsonl, <dir>/queries.jsonl and <dir>/qrels/<split>.tsv.
BeirData read_beir(const std::filesystem::path& dir, const std::string& split);

// The pieces, for callers holding their data elsewhere (file names only for messages).
struct BeirDoc {
  std::string id, title, text;
};
struct BeirQuery {
  std::string id, text;
};
std::vector<BeirDoc> read_beir_corpus(const std::filesystem::path& file);
std::vector<BeirQuery> read_beir_queries(const std::filesystem::path& file);
std::vector<BeirQrel> read_beir_qrels(const std::filesystem::path& file);

// Builds the evaluation set from parsed pieces (the rules above; throws on duplicate ids).
BeirData assemble_beir(std::vector<BeirDoc> corpus, std::vector<BeirQuery> queries,
                       const std::vector<BeirQrel>& qrels);

// Python's str.strip(): removes leading and trailing Unicode whitespace (str.isspace).
std::string py_strip(std::string_view s);

}  // namespace sbert::eval
