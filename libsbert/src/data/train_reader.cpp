#include "data/train_reader.h"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "core/json_read.h"
#include "core/read_buffer.h"
#include "data/ascii_space.h"
#include "core/utf8.h"
#include "data/train_table.h"

namespace sbert {

namespace fs = std::filesystem;

struct TrainRecordScratch::Impl {
  simdjson::dom::parser parser;
  std::string buf;  // record bytes, then SIMDJSON_PADDING bytes
};

TrainRecordScratch::TrainRecordScratch() : impl_(std::make_unique<Impl>()) {}
TrainRecordScratch::~TrainRecordScratch() = default;
TrainRecordScratch::TrainRecordScratch(TrainRecordScratch&&) noexcept = default;
TrainRecordScratch& TrainRecordScratch::operator=(TrainRecordScratch&&) noexcept = default;

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The top-level key whose value holds byte `pos` of an object record ("" when none is found).
// Best effort, used only to name the field of a UTF-8 error (simdjson refuses such input whole).
std::string field_at(std::string_view rec, size_t pos) {
  int depth = 0;
  bool in_str = false, esc = false, pending = false;
  size_t str_begin = 0;
  std::string_view last, key;
  for (size_t i = 0; i < rec.size() && i < pos; ++i) {
    const char c = rec[i];
    if (in_str) {
      if (esc) {
        esc = false;
      } else if (c == '\\') {
        esc = true;
      } else if (c == '"') {
        in_str = false;
        if (depth == 1) {
          last = rec.substr(str_begin, i - str_begin);
          pending = true;
        }
      }
      continue;
    }
    if (is_json_space(c)) continue;
    if (c == '"') {
      in_str = true;
      str_begin = i + 1;
      continue;
    }
    if (c == ':' && depth == 1 && pending) key = last;
    pending = false;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
  }
  return std::string(key);
}

// Checks one record: `data` holds `len` bytes followed by SIMDJSON_PADDING readable bytes.
// Returns "" and fills *out (when given) if the record is good, else what is wrong.
// *has_score / *has_margins (when given) tell whether the record carries them.
std::string check_record(simdjson::dom::parser& parser, const char* data, size_t len,
                         const RecordLayout& l, TrainRecord* out, bool* has_score = nullptr,
                         bool* has_margins = nullptr) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(data, len, false).get(doc)) {
    // simdjson validates UTF-8 (strictly, RFC 3629); find the byte and field for the message.
    const std::string_view bytes(data, len);
    const size_t bad = err == simdjson::UTF8_ERROR ? find_invalid_utf8(bytes) : bytes.npos;
    if (bad != bytes.npos) {
      const std::string f = field_at(bytes, bad);
      if (f.empty()) return cat("not valid UTF-8 (byte ", bad + 1, " of the record)");
      return cat("field '", f, "' is not valid UTF-8 (byte ", bad + 1, " of the record)");
    }
    return cat("not valid JSON (", simdjson::error_message(err), ")");
  }
  simdjson::dom::object obj;
  if (doc.get(obj)) return cat("expected a JSON object, got ", json_type_name(doc));

  std::string_view texts[2];
  const std::string* names[2] = {&l.anchor, &l.positive};
  for (int f = 0; f < 2; ++f) {
    const std::string& name = *names[f];
    simdjson::dom::element v;
    if (obj[name].get(v)) {
      return cat("missing field '", name, "'",
                 l.default_texts ? " (other key names for the texts: set the anchor and positive "
                                   "of model.data.columns)"
                                 : "");
    }
    if (v.get(texts[f])) {
      return cat("field '", name, "' must be a string, got ", json_type_name(v));
    }
    if (texts[f].empty()) return cat("field '", name, "' is empty");
    if (is_blank(texts[f])) return cat("field '", name, "' is only whitespace");
  }
  const std::string_view pos = strip_ascii(texts[1]);
  if (out) {
    out->query.assign(texts[0]);
    out->pos_doc.assign(texts[1]);
    out->neg_docs.clear();
    out->score.reset();
    out->margins.clear();
  }
  // Negatives: each named field a string or an array of strings.
  size_t negatives = 0;
  for (const std::string& name : l.negatives) {
    simdjson::dom::element nv;
    if (obj[name].get(nv)) {
      if (l.negatives_required) return cat("missing field '", name, "'");
      continue;
    }
    // k == 0: the field itself is the string; else item k of count. The label is built only
    // for an error (this runs for every negative of every record in the index pass).
    auto one = [&](simdjson::dom::element item, size_t k, size_t count) -> std::string {
      auto what = [&] {
        return k == 0 ? cat("field '", name, "'")
                      : cat("field '", name, "' item ", k, " of ", count);
      };
      std::string_view s;
      if (item.get(s)) return cat(what(), " must be a string, got ", json_type_name(item));
      if (s.empty()) return cat(what(), " is empty");
      if (is_blank(s)) return cat(what(), " is only whitespace");
      if (strip_ascii(s) == pos) {
        return cat(what(), " is the same text as ", l.positive,
                   " (a negative must differ from the positive)");
      }
      if (out) out->neg_docs.emplace_back(s);
      ++negatives;
      return {};
    };
    simdjson::dom::array arr;
    if (nv.type() == simdjson::dom::element_type::STRING) {
      if (std::string e = one(nv, 0, 1); !e.empty()) return e;
      continue;
    }
    if (nv.get(arr)) {
      return cat("field '", name, "' must be an array of strings, got ", json_type_name(nv));
    }
    const size_t count = arr.size();
    size_t k = 0;
    for (simdjson::dom::element item : arr) {
      std::string e = one(item, ++k, count);
      if (!e.empty()) return e;
    }
  }
  auto number = [](simdjson::dom::element v, double& x) {
    if (v.get(x)) return false;
    return std::isfinite(x);
  };
  simdjson::dom::element sv;
  if (!obj[l.score].get(sv)) {
    double x = 0;
    if (!number(sv, x)) {
      return cat("field '", l.score, "' must be a finite number, got ", json_type_name(sv));
    }
    if (out) out->score = x;
    if (has_score) *has_score = true;
  } else if (l.score_required) {
    return cat("missing field '", l.score, "'");
  }
  size_t margins = 0;
  bool any_margins = false;
  for (const std::string& name : l.margins) {
    simdjson::dom::element mv;
    if (obj[name].get(mv)) {
      if (l.margins_required) return cat("missing field '", name, "'");
      continue;
    }
    any_margins = true;
    double x = 0;
    simdjson::dom::array arr;
    if (number(mv, x)) {
      if (out) out->margins.push_back(x);
      ++margins;
    } else if (!mv.get(arr)) {
      for (simdjson::dom::element item : arr) {
        if (!number(item, x)) {
          return cat("field '", name, "' must be an array of finite numbers, got an item that is ",
                     json_type_name(item));
        }
        if (out) out->margins.push_back(x);
        ++margins;
      }
    } else {
      return cat("field '", name, "' must be a number or an array of numbers, got ",
                 json_type_name(mv));
    }
  }
  if (any_margins && margins != negatives) {
    return cat("field '", l.margins.front(), "' has ", margins, " margins for ", negatives,
               " negatives (one margin per negative)");
  }
  if (has_margins) *has_margins = margins > 0;
  return {};
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The index pass: one streaming read of the file, a byte-level state machine that finds record
// boundaries (JSONL lines, or top-level elements of the array, string- and escape-aware), and a
// full check of each record as it completes.
class Indexer {
 public:
  Indexer(const fs::path& path, const TrainReaderOptions& opt)
      : path_(path), opt_(opt), layout_(json_layout(opt.columns)) {}

  std::string name() const { return path_.string(); }

  void run(int fd) {
    std::vector<char> chunk = read_buffer(fd);
    uint64_t base = 0;
    for (;;) {
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("[train-data] ", name(), ": read failed: ", std::strerror(errno));
      }
      if (n == 0) break;
      size_t i = 0;
      if (base == 0 && n >= 3 && std::memcmp(chunk.data(), "\xEF\xBB\xBF", 3) == 0) i = 3;
      scan(chunk.data(), i, static_cast<size_t>(n), base);
      base += static_cast<uint64_t>(n);
    }
    stats.file_bytes = base;
    finish();
  }

  TrainFileFormat format = TrainFileFormat::Jsonl;
  std::vector<TrainDataset::Entry> index;
  std::vector<uint64_t> skipped;
  TrainReadStats stats;

 private:
  enum class St { Detect, Line, ArrStart, ArrNext, ArrElem, ArrEnd };

  [[noreturn]] void fail_at_line(const std::string& what) const {
    fail("[train-data] ", name(), ":line ", line_, ": ", what);
  }

  void begin_record(uint64_t offset) {
    rec_.clear();
    rec_offset_ = offset;
    rec_line_ = line_;
    depth_ = 0;
    in_str_ = esc_ = false;
  }

  // Bytes that matter inside an array element: quotes, backslash, brackets, comma, newline.
  static bool special(char c) {
    switch (c) {
      case '"':
      case '\\':
      case '{':
      case '}':
      case '[':
      case ']':
      case ',':
      case '\n':
        return true;
      default:
        return false;
    }
  }

  // Feeds p[i, n) (file offset of p[0]: base) to the state machine. Lines are counted here.
  void scan(const char* p, size_t i, size_t n, uint64_t base) {
    while (i < n) {
      switch (st_) {
        case St::Line: {  // JSONL: whole lines, leading blanks skipped, blank lines ignored
          const auto* nl = static_cast<const char*>(std::memchr(p + i, '\n', n - i));
          const size_t end = nl ? static_cast<size_t>(nl - p) : n;
          size_t b = i;
          if (!in_rec_) {
            while (b < end && is_json_space(p[b])) ++b;
            if (b < end) {
              begin_record(base + b);
              in_rec_ = true;
            }
          }
          if (in_rec_) rec_.append(p + b, end - b);
          i = end;
          if (nl) {
            if (in_rec_) end_record();
            in_rec_ = false;
            ++line_;
            ++i;
          }
          break;
        }
        case St::ArrElem: {  // inside a top-level element of the array: find where it ends
          const size_t b = i;
          bool ended = false;
          char last = 0;
          for (; i < n; ++i) {
            const char c = p[i];
            if (esc_) {  // the byte after a backslash inside a string
              esc_ = false;
              if (c == '\n') ++line_;
              continue;
            }
            if (!special(c)) continue;
            if (c == '\n') {
              ++line_;
              continue;
            }
            if (in_str_) {
              if (c == '\\') esc_ = true;
              if (c == '"') in_str_ = false;
              continue;
            }
            if (c == '"') {
              in_str_ = true;
            } else if (depth_ == 0 && (c == ',' || c == ']')) {
              ended = true;
              last = c;
              break;
            } else if (c == '{' || c == '[') {
              ++depth_;
            } else if (c == '}' || c == ']') {
              if (depth_ == 0) {
                fail("[train-data] ", name(), ":record ", number_ + 1, " (line ", rec_line_,
                     "): not valid JSON (unbalanced '", c, "' on line ", line_, ")");
              }
              --depth_;
            }
          }
          rec_.append(p + b, i - b);
          if (ended) {
            while (!rec_.empty() && is_json_space(rec_.back())) rec_.pop_back();
            end_record();
            st_ = last == ',' ? St::ArrNext : St::ArrEnd;
            ++i;
          }
          break;
        }
        default:
          step_byte(p[i], base + i);
          if (p[i] == '\n') ++line_;
          ++i;
      }
    }
  }

  // One byte in the states between records (whitespace, '[', ',', ']', trailing data).
  void step_byte(char c, uint64_t offset) {
    switch (st_) {
      case St::Detect:
        if (is_json_space(c)) return;
        if (c == '{') {
          format = TrainFileFormat::Jsonl;
          st_ = St::Line;
          begin_record(offset);
          in_rec_ = true;
          rec_.push_back(c);
        } else if (c == '[') {
          format = TrainFileFormat::JsonArray;
          st_ = St::ArrStart;
        } else {
          fail_at_line(
              cat("expected a JSON array ('[') or JSON Lines ('{') but the file starts "
                  "with '",
                  c, "'"));
        }
        return;
      case St::ArrStart:
      case St::ArrNext:
        if (is_json_space(c)) return;
        if (c == ']') {
          if (st_ == St::ArrNext) {
            fail_at_line(cat("expected a record after the ',' that follows record ", number_,
                             " (a trailing comma is not JSON)"));
          }
          st_ = St::ArrEnd;
          return;
        }
        begin_record(offset);
        st_ = St::ArrElem;
        scan(&c, 0, 1, offset);  // the element's first byte
        return;
      case St::ArrEnd:
        if (is_json_space(c)) return;
        fail_at_line(
            cat("unexpected data after the end of the JSON array, starting with '", c, "'"));
      case St::Line:
      case St::ArrElem:
        return;  // handled by scan()
    }
  }

  void end_record() {
    ++number_;
    SBERT_CHECK(rec_.size() <= std::numeric_limits<uint32_t>::max(), "[train-data] ", name(),
                ":record ", number_, " (line ", rec_line_, "): larger than 4 GiB");
    SBERT_CHECK(rec_line_ <= std::numeric_limits<uint32_t>::max(), "[train-data] ", name(),
                ":record ", number_, ": line number ", rec_line_, " is past 2^32");
    const size_t len = rec_.size();
    rec_.append(simdjson::SIMDJSON_PADDING, ' ');
    bool has_score = false, has_margins = false;
    const std::string err =
        check_record(parser_, rec_.data(), len, layout_, nullptr, &has_score, &has_margins);
    rec_.resize(len);
    if (err.empty()) {
      index.push_back({rec_offset_, static_cast<uint32_t>(len), static_cast<uint32_t>(rec_line_)});
      stats.with_score += has_score;
      stats.with_margins += has_margins;
      return;
    }
    const std::string msg =
        one_line(cat("[train-data] ", name(), ":record ", number_, " (line ", rec_line_,
                     "): ", err));
    if (!opt_.skip_bad_records) throw Error(msg);
    if (skipped.empty()) stats.first_skipped = msg;
    skipped.push_back(number_);
  }

  void finish() {
    switch (st_) {
      case St::Detect:
        fail("[train-data] ", name(), ": the file is empty");
      case St::Line:
        if (in_rec_) end_record();
        break;
      case St::ArrStart:
      case St::ArrNext:
        fail("[train-data] ", name(), ":line ", line_,
             ": the file ends before the JSON array "
             "is closed (after record ",
             number_, "); is it truncated?");
      case St::ArrElem:
        fail("[train-data] ", name(), ":record ", number_ + 1, " (line ", rec_line_,
             "): truncated: the file ends inside this record, before the JSON array is closed");
      case St::ArrEnd:
        break;
    }
    stats.records = index.size();
    stats.skipped = skipped.size();
    if (index.empty()) {
      if (skipped.empty()) fail("[train-data] ", name(), ": no records");
      fail("[train-data] ", name(), ": no good record: all ", skipped.size(),
           " records are bad; the first: ", stats.first_skipped);
    }
  }

  fs::path path_;
  TrainReaderOptions opt_;
  RecordLayout layout_;
  simdjson::dom::parser parser_;
  St st_ = St::Detect;
  std::string rec_;
  uint64_t rec_offset_ = 0;
  uint64_t rec_line_ = 1;
  uint64_t line_ = 1;
  uint64_t number_ = 0;  // records completed so far (good and bad)
  int depth_ = 0;
  bool in_str_ = false, esc_ = false;
  bool in_rec_ = false;  // JSONL: the current line has a record
};

}  // namespace

TrainDataset TrainDataset::open(const fs::path& path, const TrainReaderOptions& opt) {
  return open(std::vector<fs::path>{path}, opt);
}

TrainDataset TrainDataset::open(const std::vector<fs::path>& paths, const TrainReaderOptions& opt) {
  SBERT_CHECK(!paths.empty(), "[train-data] no training file given");
  TrainDataset d;
  for (const fs::path& path : paths) {
    Fd file;
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    SBERT_CHECK(file.fd >= 0, "[train-data] ", path.string(),
                ": cannot open: ", std::strerror(errno));
    File f;
    f.path = path;
    f.first = d.index_.size();
    const DataFormat format = format_for_path(opt.format, path.string());
    if (format == DataFormat::Json) {
      Indexer ix(path, opt);
      ix.run(file.fd);
      f.format = ix.format;
      f.layout = json_layout(opt.columns);
      f.skipped = std::move(ix.skipped);
      f.stats = ix.stats;
      d.index_.insert(d.index_.end(), ix.index.begin(), ix.index.end());
    } else {
      f.format = format == DataFormat::Csv ? TrainFileFormat::Csv : TrainFileFormat::Tsv;
      TableIndex ix = index_table(file.fd, path.string(), f.format, opt);
      f.layout = std::move(ix.layout);
      f.skipped = std::move(ix.skipped);
      f.stats = ix.stats;
      d.index_.insert(d.index_.end(), ix.index.begin(), ix.index.end());
    }
    f.skipped.shrink_to_fit();
    d.total_.records += f.stats.records;
    d.total_.skipped += f.stats.skipped;
    d.total_.file_bytes += f.stats.file_bytes;
    d.total_.with_score += f.stats.with_score;
    d.total_.with_margins += f.stats.with_margins;
    if (d.total_.first_skipped.empty()) d.total_.first_skipped = f.stats.first_skipped;
    f.fd = file.fd;
    file.fd = -1;
    d.files_.push_back(std::move(f));
  }
  d.index_.shrink_to_fit();
  return d;
}

TrainDataset::TrainDataset(TrainDataset&& o) noexcept
    : files_(std::move(o.files_)),
      index_(std::move(o.index_)),
      total_(std::move(o.total_)),
      memory_(std::move(o.memory_)) {
  o.files_.clear();
}

TrainDataset& TrainDataset::operator=(TrainDataset&& o) noexcept {
  if (this != &o) {
    close_files();
    files_ = std::move(o.files_);
    index_ = std::move(o.index_);
    total_ = std::move(o.total_);
    memory_ = std::move(o.memory_);
    o.files_.clear();
  }
  return *this;
}

TrainDataset::~TrainDataset() { close_files(); }

void TrainDataset::close_files() {
  for (File& f : files_) {
    if (f.fd >= 0) ::close(f.fd);
    f.fd = -1;
  }
}

TrainDataset TrainDataset::from_records(std::vector<TrainRecord> records) {
  SBERT_CHECK(!records.empty(), "[train-data] no training examples given");
  for (size_t i = 0; i < records.size(); ++i) {
    const TrainRecord& r = records[i];
    SBERT_CHECK(!r.query.empty(), "[train-data] example ", i, ": the query is empty");
    SBERT_CHECK(!r.pos_doc.empty(), "[train-data] example ", i, ": pos_doc is empty");
    for (size_t j = 0; j < r.neg_docs.size(); ++j) {
      SBERT_CHECK(!r.neg_docs[j].empty(), "[train-data] example ", i, ": neg_docs[", j,
                  "] is empty");
    }
  }
  TrainDataset d;
  d.index_.assign(records.size(), Entry{0, 0, 0});
  d.total_.records = records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    const TrainRecord& r = records[i];
    SBERT_CHECK(r.margins.empty() || r.margins.size() == r.neg_docs.size(),
                "[train-data] example ", i, ": ", r.margins.size(), " margins for ",
                r.neg_docs.size(), " negatives (one margin per negative)");
    d.total_.with_score += r.score.has_value();
    d.total_.with_margins += !r.margins.empty();
  }
  d.memory_ = std::make_shared<const std::vector<TrainRecord>>(std::move(records));
  return d;
}

TrainDataset TrainDataset::concat(std::vector<TrainDataset> parts) {
  SBERT_CHECK(!parts.empty(), "[train-data] no dataset given");
  if (parts.size() == 1) return std::move(parts[0]);
  TrainDataset d;
  for (TrainDataset& p : parts) {
    SBERT_CHECK(!p.memory_, "[train-data] concat: examples in memory cannot be joined");
    for (File& f : p.files_) {
      f.first += d.index_.size();
      d.files_.push_back(std::move(f));
    }
    p.files_.clear();  // the fds moved with them
    d.index_.insert(d.index_.end(), p.index_.begin(), p.index_.end());
    d.total_.records += p.total_.records;
    d.total_.skipped += p.total_.skipped;
    d.total_.file_bytes += p.total_.file_bytes;
    d.total_.with_score += p.total_.with_score;
    d.total_.with_margins += p.total_.with_margins;
    if (d.total_.first_skipped.empty()) d.total_.first_skipped = p.total_.first_skipped;
  }
  return d;
}

std::string TrainDataset::name() const {
  if (memory_) return "(examples in memory)";
  if (files_.empty()) return "(no file)";
  if (files_.size() == 1) return files_[0].path.string();
  return cat(files_[0].path.string(), " and ", files_.size() - 1, " more files");
}

size_t TrainDataset::file_of(size_t i) const {
  SBERT_CHECK(i < index_.size(), "[train-data] ", name(), ": record index ", i, " out of range (",
              index_.size(), " records)");
  size_t f = files_.size() - 1;
  while (files_[f].first > i) --f;  // a handful of files: a linear search is fine
  return f;
}

size_t TrainDataset::record_number(size_t i) const {
  const File& f = files_[file_of(i)];
  // The (k+1)-th good record of the file: the smallest n with n - #(skipped <= n) == k + 1.
  const uint64_t k = i - f.first;
  uint64_t n = k + 1;
  for (;;) {
    const auto s = static_cast<uint64_t>(std::upper_bound(f.skipped.begin(), f.skipped.end(), n) -
                                         f.skipped.begin());
    if (k + 1 + s == n) return n;
    n = k + 1 + s;
  }
}

std::string TrainDataset::where(size_t i) const {
  if (memory_) return cat("example ", i);
  return cat(files_[file_of(i)].path.string(), ":record ", record_number(i), " (line ",
             index_[i].line, ")");
}

size_t TrainDataset::index_bytes() const {
  size_t n = index_.capacity() * sizeof(Entry) + files_.capacity() * sizeof(File);
  for (const File& f : files_) n += f.skipped.capacity() * sizeof(uint64_t);
  return n;
}

TrainRecord TrainDataset::record(size_t i) const {
  TrainRecordScratch scratch;
  return record(i, scratch);
}

TrainRecord TrainDataset::record(size_t i, TrainRecordScratch& scratch) const {
  if (memory_) {
    SBERT_CHECK(i < memory_->size(), "[train-data] example ", i, " out of range (",
                memory_->size(), " examples)");
    return (*memory_)[i];
  }
  const File& f = files_[file_of(i)];
  const Entry& e = index_[i];
  std::string& buf = scratch.impl().buf;
  buf.resize(size_t{e.length} + simdjson::SIMDJSON_PADDING);
  size_t got = 0;
  while (got < e.length) {
    const ssize_t n =
        ::pread(f.fd, buf.data() + got, e.length - got, static_cast<off_t>(e.offset + got));
    if (n < 0 && errno == EINTR) continue;
    SBERT_CHECK(n > 0, "[train-data] ", where(i), ": cannot read it back (",
                n < 0 ? std::strerror(errno) : "file shrank",
                "); did the file change after it was indexed?");
    got += static_cast<size_t>(n);
  }
  std::memset(buf.data() + e.length, ' ', simdjson::SIMDJSON_PADDING);
  TrainRecord rec;
  const std::string err =
      f.format == TrainFileFormat::Csv || f.format == TrainFileFormat::Tsv
          ? check_table_record(std::string_view(buf.data(), e.length), f.format, f.layout, &rec)
          : check_record(scratch.impl().parser, buf.data(), e.length, f.layout, &rec);
  SBERT_CHECK(err.empty(), "[train-data] ", where(i), ": ", err,
              "; the file changed after it was indexed");
  return rec;
}

}  // namespace sbert
