// CSV and TSV training files with a header line (docs/data.md).
//
// Rules of this file:
// - CSV is RFC 4180: fields separated by ',', a field may be quoted with '"' (then it may hold
//   commas, newlines and doubled quotes ""), rows end with LF or CRLF. A quote inside an
//   unquoted field is a literal character (as Python's csv reader reads it); text after a
//   closing quote is an error.
// - TSV is what STSb's files are: fields separated by tabs, no quoting at all (a '"' is text),
//   rows end with LF or CRLF.
// - The first non-empty row is the header; empty rows are skipped. Every row has as many fields
//   as the header. Records count data rows from 1; the line is where the row starts.
// - The same streaming index as the JSON reader (data/train_reader.h): byte ranges only, every
//   row checked in the pass, record(i) re-reads one row.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "data/train_reader.h"

namespace sbert {

struct TableIndex {
  RecordLayout layout;
  std::vector<TrainDataset::Entry> index;
  std::vector<uint64_t> skipped;  // 1-based record numbers
  TrainReadStats stats;
};

// Streams the open file `fd` once; throws "[train-data] <name>:..." for structural errors and
// (without skip_bad_records) the first bad row.
TableIndex index_table(int fd, const std::string& name, TrainFileFormat format,
                       const TrainReaderOptions& opt);

// Checks one data row (its bytes, without the line end): "" and fills *out (when given) if it
// is good, else what is wrong.
std::string check_table_record(std::string_view row, TrainFileFormat format,
                               const RecordLayout& layout, TrainRecord* out);

}  // namespace sbert
