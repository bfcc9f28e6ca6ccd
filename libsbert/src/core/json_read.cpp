#include "core/json_read.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "core/check.h"
#include "core/json_write.h"

namespace sbert {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Appends ".0" to integer literals of more than 19 digits (beyond 64 bits), outside strings, so
// that simdjson reads them as doubles instead of refusing the document.
std::string widen_big_integers(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[i + 1];
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      ++i;
      continue;
    }
    if (c == '-' || is_digit(c)) {
      size_t j = i + (c == '-' ? 1 : 0);
      const size_t digits_start = j;
      while (j < text.size() && is_digit(text[j])) ++j;
      const bool plain_integer =
          j == text.size() || (text[j] != '.' && text[j] != 'e' && text[j] != 'E');
      out.append(text.substr(i, j - i));
      if (plain_integer && j - digits_start > 19) out += ".0";
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace

const char* json_type_name(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "an integer";
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

std::string json_excerpt(simdjson::dom::element e) {
  std::string s = simdjson::minify(e);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

simdjson::error_code parse_json(std::string_view text, simdjson::dom::parser& parser,
                                simdjson::padded_string& storage, simdjson::dom::element& root) {
  storage = simdjson::padded_string(text);
  simdjson::error_code err = parser.parse(storage).get(root);
  if (err == simdjson::NUMBER_ERROR) {
    storage = simdjson::padded_string(widen_big_integers(text));
    err = parser.parse(storage).get(root);
  }
  return err;
}

JsonDocument JsonDocument::from_file(const std::filesystem::path& file, std::string_view tag) {
  std::error_code ec;
  SBERT_CHECK(std::filesystem::is_regular_file(file, ec), "[", tag, "] ", file.string(),
              ": file not found");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  SBERT_CHECK(in.good() || in.eof(), "[", tag, "] ", file.string(), ": cannot read");
  return from_string(text.str(), file.string(), tag);
}

JsonDocument JsonDocument::from_string(std::string_view text, std::string_view label,
                                       std::string_view tag) {
  JsonDocument d;
  const auto err = parse_json(text, *d.parser_, d.storage_, d.root_);
  SBERT_CHECK(!err, "[", tag, "] ", label, ": not valid JSON (", simdjson::error_message(err),
              ")");
  return d;
}

void write_json(JsonWriter& w, simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      const simdjson::dom::object o = e.get_object().value_unsafe();
      w.begin_object();
      for (const auto kv : o) {
        w.key(kv.key);
        write_json(w, kv.value);
      }
      w.end_object();
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      const simdjson::dom::array a = e.get_array().value_unsafe();
      w.begin_array();
      for (const simdjson::dom::element v : a) write_json(w, v);
      w.end_array();
      return;
    }
    case simdjson::dom::element_type::STRING:
      w.value(e.get_string().value_unsafe());
      return;
    case simdjson::dom::element_type::INT64:
      w.value(e.get_int64().value_unsafe());
      return;
    case simdjson::dom::element_type::UINT64:
      w.value(e.get_uint64().value_unsafe());
      return;
    case simdjson::dom::element_type::DOUBLE:
      w.raw(json_fraction(e.get_double().value_unsafe()));
      return;
    case simdjson::dom::element_type::BOOL:
      w.value(e.get_bool().value_unsafe());
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      w.null();
      return;
  }
}

std::string join_field(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  std::string s(prefix);
  s += '.';
  s += key;
  return s;
}

std::string JsonReader::where() const {
  std::string s = cat("[", tag_, "] ", file_, ": ");
  if (!record_.empty()) s += cat(record_, ": ");
  return s;
}

void JsonReader::error(std::string_view field, std::string_view what) const {
  if (field.empty()) fail(where(), what);
  fail(where(), field, " ", what);
}

void JsonReader::type_error(std::string_view field, simdjson::dom::element e,
                            std::string_view expected) const {
  const std::string what =
      cat("must be ", expected, ", got ", json_excerpt(e), " (", json_type_name(e), ")");
  if (field.empty()) fail(where(), record_.empty() ? "the document " : "the record ", what);
  fail(where(), "field '", field, "' ", what);
}

simdjson::dom::object JsonReader::object(simdjson::dom::element e, std::string_view field) const {
  simdjson::dom::object o;
  if (e.get_object().get(o)) type_error(field, e, "an object");
  return o;
}

simdjson::dom::array JsonReader::array(simdjson::dom::element e, std::string_view field) const {
  simdjson::dom::array a;
  if (e.get_array().get(a)) type_error(field, e, "an array");
  return a;
}

std::string_view JsonReader::string(simdjson::dom::element e, std::string_view field) const {
  std::string_view s;
  if (e.get_string().get(s)) type_error(field, e, "a string");
  return s;
}

bool JsonReader::boolean(simdjson::dom::element e, std::string_view field) const {
  bool b = false;
  if (e.get_bool().get(b)) type_error(field, e, "true or false");
  return b;
}

int64_t JsonReader::integer(simdjson::dom::element e, std::string_view field, int64_t min,
                            int64_t max) const {
  int64_t v = 0;
  if (e.is_uint64() && !e.is_int64()) {
    error(field, cat("must be in [", min, ", ", max, "], got ", json_excerpt(e)));
  }
  if (e.get_int64().get(v)) type_error(field, e, "an integer");
  if (v < min || v > max) error(field, cat("must be in [", min, ", ", max, "], got ", v));
  return v;
}

double JsonReader::number(simdjson::dom::element e, std::string_view field) const {
  double v = 0;
  if (e.get_double().get(v)) type_error(field, e, "a number");
  return v;
}

std::optional<simdjson::dom::element> JsonReader::member(simdjson::dom::object obj,
                                                         std::string_view key) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e)) return std::nullopt;
  return e;
}

simdjson::dom::element JsonReader::required(simdjson::dom::object obj, std::string_view key,
                                            std::string_view field) const {
  auto e = member(obj, key);
  if (!e) error(field, "is missing");
  return *e;
}

bool JsonReader::boolean_or(simdjson::dom::object obj, std::string_view key,
                            std::string_view field, bool def) const {
  auto e = member(obj, key);
  if (!e || e->is_null()) return def;
  return boolean(*e, field);
}

std::string JsonReader::string_or(simdjson::dom::object obj, std::string_view key,
                                  std::string_view field, std::string_view def) const {
  auto e = member(obj, key);
  if (!e || e->is_null()) return std::string(def);
  return std::string(string(*e, field));
}

int64_t JsonReader::integer_or(simdjson::dom::object obj, std::string_view key,
                               std::string_view field, int64_t min, int64_t max,
                               int64_t def) const {
  auto e = member(obj, key);
  if (!e || e->is_null()) return def;
  return integer(*e, field, min, max);
}

double JsonReader::number_or(simdjson::dom::object obj, std::string_view key,
                             std::string_view field, double def) const {
  auto e = member(obj, key);
  if (!e || e->is_null()) return def;
  return number(*e, field);
}

}  // namespace sbert
