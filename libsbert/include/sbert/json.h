// Writing JSON, shared by the library and the apps: shortest round-trip numbers and a small
// streaming writer (objects, arrays, escaped strings, compact or pretty). Every JSON file
// libsbert and its tools write goes through it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sbert/export.h"

namespace sbert {

// Shortest text that reads back as the same double (std::to_chars); non-finite -> "null".
// 1e-07, 0.1, -0, 1e+300; integral values print as integers ("3").
SBERT_API std::string json_number(double v);
// The same for a float: the shortest text that reads back as the same float (0.1f -> "0.1").
SBERT_API std::string json_number(float v);
// Streams one JSON value. indent 0 writes compact JSON ("," and ":"); indent n > 0 writes
// Python's json.dump(indent=n) layout: one member per line, ": " after keys, "{}" and "[]" for
// empty containers. A container opened inline is written on one line with ", " and ": " (Python's
// default separators) whatever the indent. Misuse (a value where a key is due, unbalanced ends)
// throws sbert::Error.
class JsonWriter {
 public:
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  SBERT_API JsonWriter& begin_object(bool inline_container = false);
  SBERT_API JsonWriter& end_object();
  SBERT_API JsonWriter& begin_array(bool inline_container = false);
  SBERT_API JsonWriter& end_array();
  SBERT_API JsonWriter& key(std::string_view k);

  SBERT_API JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  JsonWriter& value(T v) {
    return raw(std::to_string(v));
  }
  JsonWriter& value(double v) { return raw(json_number(v)); }
  JsonWriter& value(float v) { return raw(json_number(v)); }
  JsonWriter& null() { return raw("null"); }
  // Text that is already JSON (a number formatted another way, a minified element).
  SBERT_API JsonWriter& raw(std::string_view json);

  // key(k).value(v) in one call.
  template <typename T>
  JsonWriter& member(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  // The text so far; complete once every container is closed.
  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  struct Level {
    bool object = false;
    bool inline_container = false;
    size_t count = 0;
  };
  void before_value();
  void open(char c, bool object, bool inline_container);
  void close(char c, bool object);
  void newline(size_t depth);

  int indent_ = 0;
  std::string out_;
  std::vector<Level> stack_;
  bool key_pending_ = false;
};

}  // namespace sbert
