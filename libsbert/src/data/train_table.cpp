#include "data/train_table.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "core/read_buffer.h"
#include "data/ascii_space.h"
#include "core/utf8.h"

namespace sbert {

namespace {

// Splits a row into fields; "" when it parses, else what is wrong.
std::string split_fields(std::string_view row, TrainFileFormat format,
                         std::vector<std::string>& fields) {
  fields.clear();
  const char sep = format == TrainFileFormat::Csv ? ',' : '\t';
  if (format == TrainFileFormat::Tsv) {
    size_t b = 0;
    for (;;) {
      const size_t e = row.find(sep, b);
      fields.emplace_back(row.substr(b, e == row.npos ? row.npos : e - b));
      if (e == row.npos) return {};
      b = e + 1;
    }
  }
  size_t i = 0;
  for (;;) {
    std::string f;
    if (i < row.size() && row[i] == '"') {
      const size_t open = fields.size() + 1;
      ++i;
      for (;;) {
        if (i >= row.size()) return cat("not valid CSV: field ", open, " has no closing quote");
        if (row[i] == '"') {
          if (i + 1 < row.size() && row[i + 1] == '"') {
            f.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f.push_back(row[i++]);
      }
      if (i < row.size() && row[i] != sep) {
        return cat("not valid CSV: text after the closing quote of field ", open,
                   " (a quote inside a quoted field is written \"\")");
      }
    } else {
      const size_t e = row.find(sep, i);
      f.assign(row.substr(i, e == row.npos ? row.npos : e - i));
      i = e == row.npos ? row.size() : e;
    }
    fields.push_back(std::move(f));
    if (i >= row.size()) return {};
    ++i;  // the separator
    if (i == row.size()) {
      fields.emplace_back();
      return {};
    }
  }
}

// A finite number, the whole field (ASCII spaces around it allowed).
bool parse_number(std::string_view s, double& out) {
  const std::string t(strip_ascii(s));
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && std::isfinite(out) && errno != ERANGE;
}

}  // namespace

std::string check_table_record(std::string_view row, TrainFileFormat format,
                               const RecordLayout& l, TrainRecord* out) {
  std::vector<std::string> fields;
  std::string err = split_fields(row, format, fields);
  if (!err.empty()) return err;
  if (fields.size() != l.header.size()) {
    return cat("has ", fields.size(), " fields, the header has ", l.header.size(),
               format == TrainFileFormat::Tsv ? " (TSV has no quoting: a text may not hold a tab)"
                                              : "");
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    const size_t bad = find_invalid_utf8(fields[i]);
    if (bad != std::string::npos) {
      return cat("column '", l.header[i], "' is not valid UTF-8 (byte ", bad + 1, " of the field)");
    }
  }
  auto text = [&](int col) -> std::string {
    const std::string& s = fields[size_t(col)];
    if (s.empty()) return cat("column '", l.header[size_t(col)], "' is empty");
    if (is_blank(s)) return cat("column '", l.header[size_t(col)], "' is only whitespace");
    return {};
  };
  for (int col : {l.anchor_col, l.positive_col}) {
    if (err = text(col); !err.empty()) return err;
  }
  const std::string_view pos = strip_ascii(fields[size_t(l.positive_col)]);
  for (int col : l.negative_cols) {
    if (err = text(col); !err.empty()) return err;
    if (strip_ascii(fields[size_t(col)]) == pos) {
      return cat("column '", l.header[size_t(col)], "' is the same text as column '",
                 l.header[size_t(l.positive_col)],
                 "' (a negative must differ from the positive)");
    }
  }
  double score = 0;
  if (l.score_col >= 0 && !parse_number(fields[size_t(l.score_col)], score)) {
    return cat("column '", l.header[size_t(l.score_col)], "' must be a finite number, got '",
               fields[size_t(l.score_col)], "'");
  }
  std::vector<double> margins(l.margin_cols.size());
  for (size_t k = 0; k < l.margin_cols.size(); ++k) {
    const std::string& f = fields[size_t(l.margin_cols[k])];
    if (!parse_number(f, margins[k])) {
      return cat("column '", l.header[size_t(l.margin_cols[k])],
                 "' must be a finite number, got '", f, "'");
    }
  }
  if (out) {
    out->query = std::move(fields[size_t(l.anchor_col)]);
    out->pos_doc = std::move(fields[size_t(l.positive_col)]);
    out->neg_docs.clear();
    for (int col : l.negative_cols) out->neg_docs.push_back(std::move(fields[size_t(col)]));
    out->score = l.score_col >= 0 ? std::optional<double>(score) : std::nullopt;
    out->margins = std::move(margins);
  }
  return {};
}

namespace {

// Row boundaries: LF outside a quoted field (CSV) or any LF (TSV); the CR of CRLF is dropped.
class TableSplitter {
 public:
  TableSplitter(std::string name, TrainFileFormat format, const TrainReaderOptions& opt)
      : name_(std::move(name)), format_(format), opt_(opt) {}

  void run(int fd) {
    std::vector<char> chunk = read_buffer(fd);
    uint64_t base = 0;
    for (;;) {
      const ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("[train-data] ", name_, ": read failed: ", std::strerror(errno));
      }
      if (n == 0) break;
      size_t i = 0;
      if (base == 0 && n >= 3 && std::memcmp(chunk.data(), "\xEF\xBB\xBF", 3) == 0) i = 3;
      scan(chunk.data(), i, static_cast<size_t>(n), base);
      base += static_cast<uint64_t>(n);
    }
    out.stats.file_bytes = base;
    if (in_quotes_) {
      fail("[train-data] ", name_, ":record ", number_ + 1, " (line ", rec_line_,
           "): truncated: the file ends inside a quoted field");
    }
    if (in_rec_) end_row();
    SBERT_CHECK(have_header_, "[train-data] ", name_, ": the file is empty (a ",
                train_file_format_name(format_), " file needs a header line)");
    out.stats.records = out.index.size();
    out.stats.skipped = out.skipped.size();
    if (out.index.empty()) {
      if (out.skipped.empty()) fail("[train-data] ", name_, ": no records (only the header)");
      fail("[train-data] ", name_, ": no good record: all ", out.skipped.size(),
           " records are bad; the first: ", out.stats.first_skipped);
    }
  }

  TableIndex out;

 private:
  void scan(const char* p, size_t i, size_t n, uint64_t base) {
    const bool csv = format_ == TrainFileFormat::Csv;
    while (i < n) {
      if (!in_rec_) {
        if (p[i] == '\n') {
          ++line_;
          ++i;
          continue;
        }
        in_rec_ = true;
        rec_.clear();
        rec_offset_ = base + i;
        rec_line_ = line_;
      }
      const size_t b = i;
      bool ended = false;
      if (!csv) {  // TSV: no quoting, a row is a line
        const auto* nl = static_cast<const char*>(std::memchr(p + i, '\n', n - i));
        i = nl ? static_cast<size_t>(nl - p) : n;
        if (nl) {
          ++line_;
          ended = true;
        }
      }
      for (; i < n && !ended; ++i) {
        const char c = p[i];
        if (c == '"' && csv) {
          in_quotes_ = !in_quotes_;
        } else if (c == '\n') {
          ++line_;
          if (!in_quotes_) {
            ended = true;
            break;
          }
        }
      }
      rec_.append(p + b, i - b);
      if (ended) {
        ++i;
        end_row();
      }
    }
  }

  void end_row() {
    in_rec_ = false;
    if (!rec_.empty() && rec_.back() == '\r') rec_.pop_back();
    if (rec_.empty()) return;  // an empty line
    if (!have_header_) {
      have_header_ = true;
      std::vector<std::string> header;
      const std::string err = split_fields(rec_, format_, header);
      SBERT_CHECK(err.empty(), "[train-data] ", name_, ":line ", rec_line_, ": the header: ", err);
      for (std::string& h : header) h = std::string(strip_ascii(h));
      out.layout = table_layout(header, opt_.columns, cat(name_, ":line ", rec_line_));
      return;
    }
    ++number_;
    SBERT_CHECK(rec_.size() <= std::numeric_limits<uint32_t>::max(), "[train-data] ", name_,
                ":record ", number_, " (line ", rec_line_, "): larger than 4 GiB");
    SBERT_CHECK(rec_line_ <= std::numeric_limits<uint32_t>::max(), "[train-data] ", name_,
                ":record ", number_, ": line number ", rec_line_, " is past 2^32");
    const std::string err = check_table_record(rec_, format_, out.layout, nullptr);
    if (err.empty()) {
      out.index.push_back({rec_offset_, static_cast<uint32_t>(rec_.size()),
                           static_cast<uint32_t>(rec_line_)});
      if (out.layout.score_col >= 0) ++out.stats.with_score;
      if (!out.layout.margin_cols.empty()) ++out.stats.with_margins;
      return;
    }
    const std::string msg =
        one_line(cat("[train-data] ", name_, ":record ", number_, " (line ", rec_line_,
                     "): ", err));
    if (!opt_.skip_bad_records) throw Error(msg);
    if (out.skipped.empty()) out.stats.first_skipped = msg;
    out.skipped.push_back(number_);
  }

  std::string name_;
  TrainFileFormat format_;
  TrainReaderOptions opt_;
  std::string rec_;
  uint64_t rec_offset_ = 0, rec_line_ = 1, line_ = 1, number_ = 0;
  bool in_rec_ = false, in_quotes_ = false, have_header_ = false;
};

}  // namespace

TableIndex index_table(int fd, const std::string& name, TrainFileFormat format,
                       const TrainReaderOptions& opt) {
  TableSplitter s(name, format, opt);
  s.run(fd);
  return std::move(s.out);
}

}  // namespace sbert
