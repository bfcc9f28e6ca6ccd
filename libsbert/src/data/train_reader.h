// Training records in NeMo's embedding fine-tuning format:
//   {"query": "...", "pos_doc": "...", "neg_doc": ["...", ...]}   (other fields are ignored)
// either as ONE JSON array of such objects (the layout NeMo's docs show) or as JSON Lines, one
// object a line (what NeMo's JSONLMemMapDataset reads). The format is detected from the first
// non-space byte: '[' -> array, '{' -> JSONL. A UTF-8 byte-order mark is skipped.
//
// Rules of this file:
// - open() streams the file ONCE and builds an index: for each good record its byte range and
//   line (16 bytes a record). No text is kept; record(i) re-reads and parses on demand (pread,
//   safe from several threads).
// - EVERY record is validated during that pass, so training never stops mid-run on bad data:
//   JSON syntax, object, fields present and typed (query/pos_doc strings, neg_doc an array of
//   strings; null is a wrong type), no empty or whitespace-only text, UTF-8, no negative equal
//   to the positive, and the file structure (closed array, nothing after it).
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

namespace sbert {

struct TrainRecord {
  std::string query;
  std::string pos_doc;
  std::vector<std::string> neg_docs;  // may be empty
};

enum class TrainFileFormat { JsonArray, Jsonl };

struct TrainReaderOptions {
  bool skip_bad_records = false;  // false: throw at the first bad record
};

struct TrainReadStats {
  size_t records = 0;         // good records (the dataset's size)
  size_t skipped = 0;         // bad records skipped (skip_bad_records only)
  std::string first_skipped;  // the error of the first skipped record, for the log
  uint64_t file_bytes = 0;
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

class TrainDataset {
 public:
  // Streams and validates the whole file; throws sbert::Error as described above, and when the
  // file holds no good record.
  static TrainDataset open(const std::filesystem::path& path, const TrainReaderOptions& opt = {});

  TrainDataset(TrainDataset&&) noexcept;
  TrainDataset& operator=(TrainDataset&&) noexcept;
  TrainDataset(const TrainDataset&) = delete;
  TrainDataset& operator=(const TrainDataset&) = delete;
  ~TrainDataset();

  size_t size() const { return index_.size(); }
  TrainFileFormat format() const { return format_; }
  const std::filesystem::path& path() const { return path_; }
  const TrainReadStats& stats() const { return stats_; }

  // Record i (0-based among the GOOD records), read from the file now. Throws if the file
  // changed since open() so that the record no longer reads back.
  TrainRecord record(size_t i) const;
  TrainRecord record(size_t i, TrainRecordScratch& scratch) const;

  // Where record i sits in the file, for messages: its 1-based record number (skipped records
  // count) and the line it starts on.
  size_t record_number(size_t i) const;
  size_t record_line(size_t i) const { return index_.at(i).line; }

  // Heap bytes held by the index (it does not grow with the texts' length).
  size_t index_bytes() const;

  struct Entry {
    uint64_t offset;  // first byte of the record in the file
    uint32_t length;  // bytes
    uint32_t line;    // 1-based line of the first byte
  };

 private:
  TrainDataset() = default;
  std::filesystem::path path_;
  TrainFileFormat format_ = TrainFileFormat::Jsonl;
  std::vector<Entry> index_;
  std::vector<uint64_t> skipped_numbers_;  // 1-based record numbers skipped, ascending
  TrainReadStats stats_;
  int fd_ = -1;
};

}  // namespace sbert
