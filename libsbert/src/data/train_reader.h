// Training records: NeMo's embedding fine-tuning record
//   {"query": "...", "pos_doc": "...", "neg_doc": ["...", ...], "score": 0.8, "margins": [...]}
// (neg_doc, score and margins optional; other fields are ignored; other key names through
// DataColumns) either as ONE JSON array of such objects (the layout NeMo's docs show) or as
// JSON Lines, one object a line (what NeMo's JSONLMemMapDataset reads), told apart by the first
// non-space byte: '[' -> array, '{' -> JSONL. Or CSV (RFC 4180 quoting) / TSV (tabs only, no
// quoting, as STSb's files) with a header line (data/train_table.h). The format comes from the
// file's extension or TrainReaderOptions::format. A UTF-8 byte-order mark is skipped.
// Shapes: pairs (no negatives: in-batch negatives only), triplets, n-tuples, scored pairs
// (score), distillation (margins, one per negative).
//
// Rules of this file:
// - open() streams each file ONCE and builds an index: for each good record its byte range and
//   line (16 bytes a record). No text is kept; record(i) re-reads and parses on demand (pread,
//   safe from several threads). Several files read as one list, in the order given.
// - EVERY record is validated during that pass, so training never stops mid-run on bad data:
//   JSON syntax, object, fields present and typed (query/pos_doc strings, neg_doc an array of
//   strings; null is a wrong type), no empty or whitespace-only text, UTF-8, no negative equal
//   to the positive, score a finite number, one margin per negative, and the file structure
//   (closed array, nothing after it; CSV's quotes closed, every row as many fields as the
//   header).
// - Errors are one line: "[train-data] <file>:record <n> (line <l>): field 'pos_doc' is empty".
//   <n> counts records in the file from 1 (skipped ones included), <l> is the line where the
//   record starts.
// - skip_bad_records: a record-level error skips the record and counts it; errors of the file's
//   structure (unclosed array, trailing data, unreadable file) still throw.
// - Texts are returned exactly as stored (no whitespace stripping: that is the batch builder's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/train_layout.h"
#include "sbert/train.h"

namespace sbert {

// NeMo's record {"query", "pos_doc", "neg_doc"}: the public TrainExample (sbert/train.h).
using TrainRecord = TrainExample;

struct TrainReaderOptions {
  bool skip_bad_records = false;  // false: throw at the first bad record
  DataFormat format = DataFormat::Auto;  // Auto: by each file's extension
  DataColumns columns;                   // where the texts and labels are (train_layout.h)
};

struct TrainReadStats {
  size_t records = 0;         // good records (the dataset's size)
  size_t skipped = 0;         // bad records skipped (skip_bad_records only)
  std::string first_skipped;  // the error of the first skipped record, for the log
  uint64_t file_bytes = 0;
  size_t with_score = 0;    // good records that carry a score
  size_t with_margins = 0;  // good records that carry margins
};

// Reusable parse buffers for record(i, scratch); one per thread. Cheap to create, but reusing
// one avoids an allocation per record.
class TrainRecordScratch {
 public:
  TrainRecordScratch();
  ~TrainRecordScratch();
  TrainRecordScratch(TrainRecordScratch&&) noexcept;
  TrainRecordScratch& operator=(TrainRecordScratch&&) noexcept;
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One or several files, read as one list of records (the files' records in the order given).
class TrainDataset {
 public:
  // Streams and validates every file; throws sbert::Error as described above, and when a file
  // holds no good record.
  static TrainDataset open(const std::filesystem::path& path, const TrainReaderOptions& opt = {});
  static TrainDataset open(const std::vector<std::filesystem::path>& paths,
                           const TrainReaderOptions& opt = {});
  // Records held in memory (TrainData::from_examples); each must have a query and a positive.
  static TrainDataset from_records(std::vector<TrainRecord> records);
  // Several datasets read as one list, in the order given (validation_ds); files only.
  static TrainDataset concat(std::vector<TrainDataset> parts);

  TrainDataset(TrainDataset&&) noexcept;
  TrainDataset& operator=(TrainDataset&&) noexcept;
  TrainDataset(const TrainDataset&) = delete;
  TrainDataset& operator=(const TrainDataset&) = delete;
  ~TrainDataset();

  size_t size() const { return index_.size(); }  // good records, all files
  size_t num_files() const { return files_.size(); }
  const std::filesystem::path& path(size_t file = 0) const { return files_.at(file).path; }
  TrainFileFormat format(size_t file = 0) const { return files_.at(file).format; }
  const TrainReadStats& stats(size_t file) const { return files_.at(file).stats; }
  const TrainReadStats& stats() const { return total_; }  // summed over the files
  std::string name() const;  // the path, or "<first path> and N more files"
  // Every good record carries a score / margins (computed by the validating pass).
  bool all_have_scores() const { return total_.with_score == total_.records; }
  bool all_have_margins() const { return total_.with_margins == total_.records; }

  // Record i (0-based among the GOOD records of all files), read from its file now. Throws if
  // the file changed since open() so that the record no longer reads back.
  TrainRecord record(size_t i) const;
  TrainRecord record(size_t i, TrainRecordScratch& scratch) const;

  // Where record i sits, for messages: its file, its 1-based record number in that file
  // (skipped records count), the line it starts on, and all three as "<file>:record <n> (line
  // <l>)".
  size_t file_of(size_t i) const;
  size_t record_number(size_t i) const;
  size_t record_line(size_t i) const { return index_.at(i).line; }
  std::string where(size_t i) const;

  // Heap bytes held by the index (it does not grow with the texts' length).
  size_t index_bytes() const;

  struct Entry {
    uint64_t offset;  // first byte of the record in its file
    uint32_t length;  // bytes
    uint32_t line;    // 1-based line of the first byte
  };

 private:
  struct File {
    std::filesystem::path path;
    TrainFileFormat format = TrainFileFormat::Jsonl;
    RecordLayout layout;
    size_t first = 0;               // index of its first good record
    std::vector<uint64_t> skipped;  // 1-based record numbers skipped, ascending
    TrainReadStats stats;
    int fd = -1;
  };
  TrainDataset() = default;
  void close_files();

  std::vector<File> files_;
  std::vector<Entry> index_;  // in memory: one (unused) entry per record, for size()
  TrainReadStats total_;
  std::shared_ptr<const std::vector<TrainRecord>> memory_;  // from_records
};

}  // namespace sbert
