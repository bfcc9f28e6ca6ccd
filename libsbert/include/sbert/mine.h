// Hard-negative mining for contrastive fine-tuning (NeMo leaves it to an offline step).
//
// For each query of a BEIR split that has a positive (qrels score > 0):
//   1. embed the corpus ("title text", with passage_prefix) and the queries (query_prefix),
//      L2-normalized, so inner product = cosine;
//   2. retrieve the query's top (range_max + P) documents, P = the largest number of documents
//      any query must skip (its positives, documents with the same text as a positive, empty
//      documents), with the library's exact search (eval/search.h; ties by corpus row);
//   3. walk them best first and drop: the positives; documents whose text equals a positive's
//      (after stripping) or is empty; candidates failing a false-negative filter
//      (absolute_margin, relative_margin, max_score, min_score, below);
//   4. of the survivors, keep ranks [range_min, range_max) (0-based, counted among survivors);
//   5. take num_negatives of them: the first ones (top) or a seeded random sample (random),
//      written best first.
// One output record per (query, positive) qrels row, in qrels order (a later row for the same
// pair replaces an earlier one, as in evaluation); every positive of a query gets the query's
// negatives. Query ids with the same text are one query (positives pooled). The BEIR folder is
// read by eval/beir.h, strictly: a qrel naming an unknown id is an error naming file:line.
//
// This is sentence-transformers' util.mine_hard_negatives (v5/v6) step for step, with a
// separate corpus, the positives excluded, output "n-tuple"-like but keeping rows that found
// fewer negatives (docs/mining.md has the mapping):
//   absolute_margin: drop if score + m > pos          (pos = the query's LOWEST positive score)
//   relative_margin: drop if score > pos - |pos| * r
//   max_score:       drop if score > s
//   min_score:       drop if score < s
// All comparisons are in float32, as torch does them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sbert/eval.h"
#include "sbert/export.h"
#include "sbert/model.h"

namespace sbert::mine {

enum class Sampling { Top, Random };
SBERT_API Sampling parse_sampling(const std::string& name);  // "top" | "random"; throws otherwise

struct SelectOptions {
  int64_t num_negatives = 4;
  int64_t range_min = 0;
  int64_t range_max = 50;
  std::optional<float> absolute_margin, relative_margin, max_score, min_score;
  Sampling sampling = Sampling::Top;
  uint64_t seed = 0;
  // threads, doc_block, query_block of the search (normalize is ignored: the embeddings are
  // normalized before, so that eval::dot of a (query, positive) pair is the search's score).
  eval::SearchOptions search;
};

// Throws sbert::Error naming the option for: num_negatives < 0, range_min < 0,
// range_min > range_max, num_negatives > range_max - range_min, a margin < 0, a
// relative_margin > 1, a non-finite threshold.
SBERT_API void validate(const SelectOptions& options);

// What the filters did, summed over queries. "Candidates" are the range_max + P documents
// retrieved per query; every count is over all of them (as sentence-transformers counts).
struct SelectStats {
  int64_t queries = 0;
  int64_t candidates = 0;         // retrieved, all queries
  int64_t dropped_positive = 0;   // the query's own positives
  int64_t dropped_duplicate = 0;  // same text as a positive, or empty
  int64_t dropped_absolute_margin = 0, dropped_relative_margin = 0;
  int64_t dropped_max_score = 0, dropped_min_score = 0;
  int64_t negatives = 0;      // chosen, all queries
  int64_t short_queries = 0;  // queries that got fewer than num_negatives
  double positive_score_sum = 0, negative_score_sum = 0;  // for means
  int64_t positive_scores = 0;
  int64_t dropped_by_filters() const {
    return dropped_absolute_margin + dropped_relative_margin + dropped_max_score +
           dropped_min_score;
  }
};

struct MineOptions {
  std::string split = "train";
  SelectOptions select;
  EmbedOptions embed;  // batch size, max_seq_length, device, threads (prefix unused)
  std::string query_prefix, passage_prefix;  // used for embedding only, not written
  bool write_ids = false;  // also write query_id, pos_id, neg_ids, pos_score, neg_scores
  // Stages "embed corpus", "embed queries" (texts, per batch), "search" (queries), "write"
  // (records).
  ProgressCallback progress;
};

struct MineStats {
  SelectStats select;
  int64_t corpus_docs = 0;
  int64_t qrels_rows = 0;                 // rows in the qrels file
  int64_t records = 0;                    // written: one per positive (query, doc) row
  int64_t records_short = 0;              // records with fewer than num_negatives negatives
  int64_t records_without_negatives = 0;  // ... with none
  int64_t skipped_not_positive = 0;       // qrels rows with score <= 0
  int64_t skipped_empty_positive = 0;     // positive documents with no text
  int64_t skipped_superseded = 0;         // qrels rows replaced by a later row for the same pair
  double seconds_read = 0, seconds_embed = 0, seconds_search = 0, seconds_write = 0;
};

// Reads <beir_dir> (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), mines, writes NeMo
// JSONL {"query", "pos_doc", "neg_doc"} to output atomically (nothing is written on error).
SBERT_API MineStats mine_beir(const Model& model, const std::filesystem::path& beir_dir,
                    const std::filesystem::path& output, const MineOptions& options);

}  // namespace sbert::mine
