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

#include "sbert/mine.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/search.h"
#include "sbert/model.h"

namespace sbert::mine {


struct QueryNegatives {
  float positive_score = 0;   // the lowest positive score (the margin's reference)
  std::vector<int64_t> rows;  // chosen corpus rows, best first
  std::vector<float> scores;  // their cosines
};

// The selection on given embeddings (rows L2-normalized by the caller; scored as given).
//   positives[q]: corpus rows that are positives of query q (non-empty for every q)
//   excluded[q]:  further rows never to use as negatives for q (same text, empty); may be empty
//   keys[q]:      the query's random-sampling key (a hash of its text): the sample of a query
//                 depends only on (seed, key, its candidates), not on other queries or order
std::vector<QueryNegatives> select_negatives(const float* query_emb, int64_t nq,
                                             const float* doc_emb, int64_t nd, int64_t dim,
                                             const std::vector<std::vector<int64_t>>& positives,
                                             const std::vector<std::vector<int64_t>>& excluded,
                                             const std::vector<uint64_t>& keys,
                                             const SelectOptions& options,
                                             SelectStats* stats = nullptr);

uint64_t query_key(const std::string& query_text);  // FNV-1a 64 (mine_beir keys by text)


}  // namespace sbert::mine
