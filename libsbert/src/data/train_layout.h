// Where a file's records keep their texts and labels: the config's DataColumns resolved against
// the file's format (JSON keys) or its header (CSV/TSV column indices). docs/data.md.
//
// Rules of this file:
// - JSON: a named key must be present in every record; a default key (NeMo's neg_doc, score,
//   margins) may be missing (a pair without negatives, a record without a score).
// - CSV/TSV: sentence-transformers' column-order convention when nothing names the anchor or
//   the positive: a column named "score" or "label" is the score, columns named "margin..." are
//   margins, the others in order are the anchor, the positive and the negatives. A named column
//   must be in the header. Names compare exactly (after trimming ASCII spaces around them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sbert/train.h"

namespace sbert {

enum class TrainFileFormat { JsonArray, Jsonl, Csv, Tsv };

const char* train_file_format_name(TrainFileFormat f);
// "auto" (by extension), "json" (array or JSON Lines), "jsonl" (the same), "csv", "tsv".
DataFormat parse_data_format(std::string_view s);
const char* data_format_name(DataFormat f);
// Auto resolved by the path's extension: .csv -> Csv, .tsv/.tab -> Tsv, anything else -> Json.
DataFormat format_for_path(DataFormat requested, const std::string& path);

struct RecordLayout {
  // JSON keys (Json formats).
  std::string anchor = "query", positive = "pos_doc", score = "score";
  std::vector<std::string> negatives = {"neg_doc"}, margins = {"margins"};
  bool negatives_required = false, score_required = false, margins_required = false;
  bool default_texts = true;  // anchor and positive are NeMo's keys (not named in columns)
  // CSV/TSV: the header and the column of each role (-1: none).
  std::vector<std::string> header;
  int anchor_col = -1, positive_col = -1, score_col = -1;
  std::vector<int> negative_cols, margin_cols;
};

RecordLayout json_layout(const DataColumns& columns);
// Throws "[train-data] <where>: ..." when a named column is not in the header, a name repeats,
// or fewer than two text columns remain.
RecordLayout table_layout(const std::vector<std::string>& header, const DataColumns& columns,
                          const std::string& where);

}  // namespace sbert
