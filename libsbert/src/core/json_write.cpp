#include "core/json_write.h"

#include <charconv>
#include <cmath>

#include "core/check.h"

namespace sbert {
namespace {

template <typename T>
std::string shortest(T v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string with_point(std::string s) {
  if (s != "null" && s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string json_number(double v) { return shortest(v); }
std::string json_number(float v) { return shortest(v); }
std::string json_fraction(double v) { return with_point(shortest(v)); }
std::string json_fraction(float v) { return with_point(shortest(v)); }

std::string json_number(double v, int significant_digits) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  const auto r =
      std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, significant_digits);
  return std::string(buf, r.ptr);
}

void JsonWriter::newline(size_t depth) {
  out_ += '\n';
  out_.append(depth * static_cast<size_t>(indent_), ' ');
}

void JsonWriter::before_value() {
  if (stack_.empty()) {
    SBERT_CHECK(out_.empty(), "[json] writer: a second top-level value");
    return;
  }
  Level& top = stack_.back();
  if (top.object) {
    SBERT_CHECK(key_pending_, "[json] writer: a value in an object needs a key first");
    key_pending_ = false;
    return;
  }
  if (top.count++) out_ += top.inline_container ? ", " : ",";
  if (!top.inline_container && indent_ > 0) newline(stack_.size());
}

JsonWriter& JsonWriter::key(std::string_view k) {
  SBERT_CHECK(!stack_.empty() && stack_.back().object && !key_pending_,
              "[json] writer: key '", k, "' outside an object or after another key");
  Level& top = stack_.back();
  const bool spaced = indent_ > 0 || top.inline_container;
  if (top.count++) out_ += top.inline_container ? ", " : ",";
  if (!top.inline_container && indent_ > 0) newline(stack_.size());
  append_json_string(out_, k);
  out_ += spaced ? ": " : ":";
  key_pending_ = true;
  return *this;
}

void JsonWriter::open(char c, bool object, bool inline_container) {
  before_value();
  out_ += c;
  const bool parent_inline = !stack_.empty() && stack_.back().inline_container;
  stack_.push_back(Level{object, inline_container || parent_inline, 0});
}

void JsonWriter::close(char c, bool object) {
  SBERT_CHECK(!stack_.empty() && stack_.back().object == object && !key_pending_,
              "[json] writer: '", c, "' does not close the open container");
  const Level top = stack_.back();
  stack_.pop_back();
  if (top.count && !top.inline_container && indent_ > 0) newline(stack_.size());
  out_ += c;
}

JsonWriter& JsonWriter::begin_object(bool inline_container) {
  open('{', true, inline_container);
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  close('}', true);
  return *this;
}
JsonWriter& JsonWriter::begin_array(bool inline_container) {
  open('[', false, inline_container);
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  close(']', false);
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  append_json_string(out_, s);
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  before_value();
  out_ += json;
  return *this;
}

}  // namespace sbert
