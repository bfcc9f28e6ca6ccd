#include "train/tfevents.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "core/check.h"
#include "io/atomic_file.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte: the files
// are a few kilobytes per step at most.
std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Protobuf wire format: varints, and (field << 3 | wire type) keys.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void put_key(std::string& out, int field, int wire) { put_varint(out, (field << 3) | wire); }
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_double(std::string& out, int field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, 1);
  put_le(out, bits, 8);
}
void put_float(std::string& out, int field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, 5);
  put_le(out, bits, 4);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// tensorflow.Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string),
// summary = 5 (Summary). Summary: value = 1 (repeated Value). Value: tag = 1, simple_value = 2.
std::string event_header(double wall_time, int64_t step) {
  std::string e;
  put_double(e, 1, wall_time);
  put_key(e, 2, 0);
  put_varint(e, static_cast<uint64_t>(step));
  return e;
}

// A minimal protobuf reader for the fields above; unknown fields are skipped by wire type.
struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  const fs::path& file;
  size_t record;

  bool more() const { return p < end; }
  void need(size_t n) const {
    SBERT_CHECK(static_cast<size_t>(end - p) >= n, "[tfevents] ", file.string(), ": record ",
                record, " holds a truncated protobuf field");
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      const unsigned char b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("[tfevents] ", file.string(), ": record ", record, " holds a bad varint");
  }
  uint64_t fixed(int bytes) {
    need(static_cast<size_t>(bytes));
    const uint64_t v = get_le(p, bytes);
    p += bytes;
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    need(n);
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  void skip(int wire) {
    if (wire == 0) varint();
    else if (wire == 1) fixed(8);
    else if (wire == 2) bytes();
    else if (wire == 5) fixed(4);
    else fail("[tfevents] ", file.string(), ": record ", record, " has wire type ", wire);
  }
};

Reader reader_of(std::string_view s, const fs::path& file, size_t record) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return Reader{p, p + s.size(), file, record};
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TfEventsWriter::TfEventsWriter(const fs::path& dir) {
  fs::create_directories(dir);
  char host[256] = "localhost";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  const double t = now_seconds();
  file_ = dir / cat("events.out.tfevents.", static_cast<long long>(t), ".", host, ".",
                    static_cast<long>(::getpid()), ".0");
  f_ = std::fopen(file_.c_str(), "wb");
  SBERT_CHECK(f_, "[tensorboard] ", file_.string(), ": cannot create the event file");
  std::string e = event_header(t, 0);
  put_bytes(e, 3, "brain.Event:2");
  record(e);
}

TfEventsWriter::~TfEventsWriter() {
  if (f_) std::fclose(f_);
}

void TfEventsWriter::scalars(int64_t step, const std::map<std::string, double>& values) {
  std::string summary;
  for (const auto& [tag, v] : values) {
    std::string value;
    put_bytes(value, 1, tag);
    put_float(value, 2, static_cast<float>(v));
    put_bytes(summary, 1, value);
  }
  std::string e = event_header(now_seconds(), step);
  put_bytes(e, 5, summary);
  record(e);
}

void TfEventsWriter::record(const std::string& event) {
  std::string r;
  put_le(r, event.size(), 8);
  put_le(r, masked_crc32c(r.data(), 8), 4);
  r += event;
  put_le(r, masked_crc32c(event.data(), event.size()), 4);
  SBERT_CHECK(std::fwrite(r.data(), 1, r.size(), f_) == r.size() && std::fflush(f_) == 0,
              "[tensorboard] ", file_.string(), ": write failed");
}

std::vector<std::string> read_tfrecords(const fs::path& file) {
  const std::string s = read_file(file);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t n = out.size();
    SBERT_CHECK(s.size() - pos >= 12, "[tfevents] ", file.string(), ": record ", n,
                ": truncated header");
    const uint64_t len = get_le(p + pos, 8);
    SBERT_CHECK(get_le(p + pos + 8, 4) == masked_crc32c(p + pos, 8), "[tfevents] ",
                file.string(), ": record ", n, ": length CRC mismatch");
    SBERT_CHECK(s.size() - pos - 12 >= len + 4, "[tfevents] ", file.string(), ": record ", n,
                ": truncated (length ", len, ")");
    const unsigned char* data = p + pos + 12;
    SBERT_CHECK(get_le(data + len, 4) == masked_crc32c(data, len), "[tfevents] ",
                file.string(), ": record ", n, ": data CRC mismatch");
    out.emplace_back(reinterpret_cast<const char*>(data), len);
    pos += 12 + len + 4;
  }
  return out;
}

std::vector<TfScalar> read_tfevents_scalars(const fs::path& file, std::string* file_version) {
  std::vector<TfScalar> out;
  const std::vector<std::string> records = read_tfrecords(file);
  for (size_t i = 0; i < records.size(); ++i) {
    Reader ev = reader_of(records[i], file, i);
    double wall = 0;
    int64_t step = 0;
    std::vector<std::pair<std::string, float>> values;
    while (ev.more()) {
      const uint64_t key = ev.varint();
      const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
      if (field == 1 && wire == 1) {
        const uint64_t bits = ev.fixed(8);
        std::memcpy(&wall, &bits, sizeof wall);
      } else if (field == 2 && wire == 0) {
        step = static_cast<int64_t>(ev.varint());
      } else if (field == 3 && wire == 2) {
        const std::string_view v = ev.bytes();
        if (file_version) *file_version = std::string(v);
      } else if (field == 5 && wire == 2) {
        Reader sum = reader_of(ev.bytes(), file, i);
        while (sum.more()) {
          const uint64_t sk = sum.varint();
          if ((sk >> 3) != 1 || (sk & 7) != 2) {
            sum.skip(static_cast<int>(sk & 7));
            continue;
          }
          Reader val = reader_of(sum.bytes(), file, i);
          std::string tag;
          float x = 0;
          while (val.more()) {
            const uint64_t vk = val.varint();
            if (vk == ((1 << 3) | 2)) {
              tag = std::string(val.bytes());
            } else if (vk == ((2 << 3) | 5)) {
              const auto bits = static_cast<uint32_t>(val.fixed(4));
              std::memcpy(&x, &bits, sizeof x);
            } else {
              val.skip(static_cast<int>(vk & 7));
            }
          }
          values.emplace_back(tag, x);
        }
      } else {
        ev.skip(wire);
      }
    }
    for (auto& [tag, x] : values) out.push_back({step, wall, tag, x});
  }
  return out;
}

}  // namespace sbert
