#include "data/train_layout.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/check.h"

namespace sbert {

const char* train_file_format_name(TrainFileFormat f) {
  switch (f) {
    case TrainFileFormat::JsonArray:
      return "JSON array";
    case TrainFileFormat::Jsonl:
      return "JSON Lines";
    case TrainFileFormat::Csv:
      return "CSV";
    case TrainFileFormat::Tsv:
      return "TSV";
  }
  return "?";
}

DataFormat parse_data_format(std::string_view s) {
  if (s == "auto") return DataFormat::Auto;
  if (s == "json" || s == "jsonl") return DataFormat::Json;
  if (s == "csv") return DataFormat::Csv;
  if (s == "tsv") return DataFormat::Tsv;
  fail("[train-data] format must be auto, json, jsonl, csv or tsv, got '", s, "'");
}

const char* data_format_name(DataFormat f) {
  switch (f) {
    case DataFormat::Auto:
      return "auto";
    case DataFormat::Json:
      return "json";
    case DataFormat::Csv:
      return "csv";
    case DataFormat::Tsv:
      return "tsv";
  }
  return "?";
}

DataFormat format_for_path(DataFormat requested, const std::string& path) {
  if (requested != DataFormat::Auto) return requested;
  std::string ext;
  const size_t dot = path.rfind('.');
  if (dot != std::string::npos && path.find('/', dot) == std::string::npos) ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".csv") return DataFormat::Csv;
  if (ext == ".tsv" || ext == ".tab") return DataFormat::Tsv;
  return DataFormat::Json;
}

RecordLayout json_layout(const DataColumns& c) {
  RecordLayout l;
  if (!c.anchor.empty()) l.anchor = c.anchor;
  if (!c.positive.empty()) l.positive = c.positive;
  l.default_texts = c.anchor.empty() && c.positive.empty();
  if (!c.negatives.empty()) {
    l.negatives = c.negatives;
    l.negatives_required = true;
  }
  if (!c.score.empty()) {
    l.score = c.score;
    l.score_required = true;
  }
  if (!c.margins.empty()) {
    l.margins = c.margins;
    l.margins_required = true;
  }
  return l;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

}  // namespace

RecordLayout table_layout(const std::vector<std::string>& header, const DataColumns& c,
                          const std::string& where) {
  RecordLayout l;
  l.header = header;
  std::set<std::string> seen;
  for (const std::string& h : header) {
    SBERT_CHECK(!h.empty(), "[train-data] ", where, ": the header has an empty column name (",
                list(header), ")");
    SBERT_CHECK(seen.insert(h).second, "[train-data] ", where, ": the header names column '", h,
                "' twice");
  }
  std::vector<bool> used(header.size(), false);
  auto col = [&](const std::string& name, const char* role) {
    const auto it = std::find(header.begin(), header.end(), name);
    SBERT_CHECK(it != header.end(), "[train-data] ", where, ": column '", name, "' (columns.",
                role, ") is not in the header: ", list(header));
    const auto i = static_cast<size_t>(it - header.begin());
    SBERT_CHECK(!used[i], "[train-data] ", where, ": column '", name,
                "' is named for two roles (columns.", role, " and another)");
    used[i] = true;
    return static_cast<int>(i);
  };
  if (!c.anchor.empty()) l.anchor_col = col(c.anchor, "anchor");
  if (!c.positive.empty()) l.positive_col = col(c.positive, "positive");
  for (const std::string& n : c.negatives) l.negative_cols.push_back(col(n, "negatives"));
  if (!c.score.empty()) l.score_col = col(c.score, "score");
  for (const std::string& n : c.margins) l.margin_cols.push_back(col(n, "margins"));
  // sentence-transformers' defaults for what is not named.
  for (size_t i = 0; i < header.size(); ++i) {
    if (used[i]) continue;
    const std::string h = lower(header[i]);
    if (c.score.empty() && (h == "score" || h == "label")) {
      SBERT_CHECK(l.score_col < 0, "[train-data] ", where, ": columns '", header[size_t(l.score_col)],
                  "' and '", header[i], "' could both be the score; name one in columns.score");
      l.score_col = static_cast<int>(i);
      used[i] = true;
    } else if (c.margins.empty() && h.rfind("margin", 0) == 0) {
      l.margin_cols.push_back(static_cast<int>(i));
      used[i] = true;
    }
  }
  const bool by_order = c.anchor.empty() && c.positive.empty();
  for (size_t i = 0; i < header.size(); ++i) {
    if (used[i]) continue;
    if (l.anchor_col < 0) {
      l.anchor_col = static_cast<int>(i);
    } else if (l.positive_col < 0) {
      l.positive_col = static_cast<int>(i);
    } else if (by_order && c.negatives.empty()) {
      l.negative_cols.push_back(static_cast<int>(i));
    } else {
      continue;
    }
    used[i] = true;
  }
  if (l.anchor_col < 0 || l.positive_col < 0) {
    const bool tabs = header.size() == 1 && header[0].find('\t') != std::string::npos;
    fail("[train-data] ", where, ": the header (", list(header),
         ") leaves no column for the ", l.anchor_col < 0 ? "anchor" : "positive",
         "; a record needs an anchor and a positive text",
         tabs ? " (the header holds tabs: is the file TSV? set format: tsv)" : "");
  }
  if (!l.margin_cols.empty()) {
    SBERT_CHECK(l.margin_cols.size() == l.negative_cols.size(), "[train-data] ", where, ": ",
                l.margin_cols.size(), " margin columns for ", l.negative_cols.size(),
                " negative columns (one margin per negative)");
  }
  return l;
}

}  // namespace sbert
