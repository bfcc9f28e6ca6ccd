// A small safetensors reader for the training fixtures (tests/fixtures/train/*.safetensors,
// written by tools/reference/make_train_fixtures.py). Local to the tests on purpose: it reads
// F64 and U8 tensors and the __metadata__ map, which the library's SafetensorsFile (float32
// oriented) does not need to offer.
#pragma once

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sbert::testfx {

inline std::string train_fixture_path(const std::string& file) {
  return std::string(SBERT_SOURCE_DIR) + "/tests/fixtures/train/" + file;
}

struct FxTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

class Fixture {
 public:
  explicit Fixture(const std::string& file) : path_(train_fixture_path(file)) {
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open fixture " + path_);
    char buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes_.insert(bytes_.end(), buf, buf + got);
    std::fclose(f);
    if (bytes_.size() < 8) throw std::runtime_error("short fixture " + path_);
    uint64_t n = 0;
    std::memcpy(&n, bytes_.data(), 8);
    data_ = 8 + n;
    if (data_ > bytes_.size()) throw std::runtime_error("bad header length in " + path_);
    simdjson::dom::parser parser;
    const simdjson::padded_string header(bytes_.data() + 8, static_cast<size_t>(n));
    simdjson::dom::element doc;
    simdjson::dom::object root;
    if (parser.parse(header).get(doc) || doc.get(root)) {
      throw std::runtime_error("bad header JSON in " + path_);
    }
    auto bad = [&](const std::string& key) {
      return std::runtime_error("bad entry '" + key + "' in " + path_);
    };
    for (simdjson::dom::key_value_pair field : root) {
      const std::string key(field.key);
      simdjson::dom::object obj;
      if (field.value.get(obj)) throw bad(key);
      if (key == "__metadata__") {
        for (simdjson::dom::key_value_pair m : obj) {
          std::string_view v;
          if (m.value.get(v)) throw bad(key);
          meta_[std::string(m.key)] = std::string(v);
        }
        continue;
      }
      FxTensor t;
      simdjson::dom::element e;
      std::string_view dtype;
      simdjson::dom::array shape, offs;
      if (obj["dtype"].get(e) || e.get(dtype)) throw bad(key);
      t.dtype = std::string(dtype);
      if (obj["shape"].get(e) || e.get(shape)) throw bad(key);
      for (simdjson::dom::element d : shape) {
        int64_t v = 0;
        if (d.get(v)) throw bad(key);
        t.shape.push_back(v);
      }
      if (obj["data_offsets"].get(e) || e.get(offs) || offs.size() != 2) throw bad(key);
      uint64_t o[2] = {0, 0};
      size_t at = 0;
      for (simdjson::dom::element d : offs) {
        if (d.get(o[at++])) throw bad(key);
      }
      t.begin = o[0];
      t.end = o[1];
      if (t.begin > t.end || data_ + t.end > bytes_.size()) throw bad(key);
      tensors_[key] = t;
    }
  }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const FxTensor& info(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw std::runtime_error("no tensor '" + name + "' in " + path_);
    return it->second;
  }
  std::string meta(const std::string& key) const {
    auto it = meta_.find(key);
    if (it == meta_.end()) throw std::runtime_error("no metadata '" + key + "' in " + path_);
    return it->second;
  }

  std::vector<double> f64(const std::string& name) const {  // from F64 or F32
    const FxTensor& t = info(name);
    std::vector<double> out;
    if (t.dtype == "F64") {
      out.resize((t.end - t.begin) / 8);
      // An empty tensor's vector has data() == nullptr: memcpy from/to null is UB even for 0 bytes.
      if (!out.empty()) std::memcpy(out.data(), bytes_.data() + data_ + t.begin, out.size() * 8);
    } else if (t.dtype == "F32") {
      const std::vector<float> f = f32(name);
      out.assign(f.begin(), f.end());
    } else {
      throw std::runtime_error("tensor '" + name + "' is " + t.dtype + ", not F64/F32");
    }
    return out;
  }
  std::vector<float> f32(const std::string& name) const {
    const FxTensor& t = info(name);
    if (t.dtype != "F32") throw std::runtime_error("tensor '" + name + "' is " + t.dtype + ", not F32");
    std::vector<float> out((t.end - t.begin) / 4);
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + data_ + t.begin, out.size() * 4);
    return out;
  }
  std::vector<uint8_t> u8(const std::string& name) const {
    const FxTensor& t = info(name);
    if (t.dtype != "U8") throw std::runtime_error("tensor '" + name + "' is " + t.dtype + ", not U8");
    return std::vector<uint8_t>(bytes_.begin() + static_cast<std::ptrdiff_t>(data_ + t.begin),
                                bytes_.begin() + static_cast<std::ptrdiff_t>(data_ + t.end));
  }

 private:
  std::string path_;
  std::vector<char> bytes_;
  uint64_t data_ = 0;
  std::map<std::string, FxTensor> tensors_;
  std::map<std::string, std::string> meta_;
};

inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    const size_t e = s.find(',', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  if (a.size() != b.size()) return 1e300;
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

// Prints measured errors when SBERT_TEST_VERBOSE is set (the numbers quoted in docs/training.md).
inline bool verbose() { return std::getenv("SBERT_TEST_VERBOSE") != nullptr; }

}  // namespace sbert::testfx
