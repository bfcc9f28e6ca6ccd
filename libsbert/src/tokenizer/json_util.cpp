#include "tokenizer/json_util.h"

#include <cstdio>

#include "core/check.h"

namespace sbert::tok {
namespace {

// Appends ".0" to integer literals of more than 18 digits, outside strings.
std::string widen_big_integers(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 16);
  bool in_string = false;
  size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      bool integral = true;
      size_t digits = 0;
      while (j < json.size()) {
        const char d = json[j];
        if (d >= '0' && d <= '9') {
          ++digits;
        } else if (d == '.' || d == 'e' || d == 'E' || d == '+') {
          integral = false;
        } else if (d != '-') {
          break;
        }
        ++j;
      }
      out.append(json.substr(i, j - i));
      if (integral && digits > 18) out.append(".0");
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace

simdjson::dom::element parse_json_file(const std::filesystem::path& file,
                                       simdjson::dom::parser& parser,
                                       simdjson::padded_string& storage) {
  std::error_code ec;
  SBERT_CHECK(std::filesystem::is_regular_file(file, ec), "[tokenizer] ", file.string(),
              ": file not found");
  simdjson::error_code err = simdjson::padded_string::load(file.string()).get(storage);
  SBERT_CHECK(!err, "[tokenizer] ", file.string(), ": cannot read (", simdjson::error_message(err),
              ")");
  simdjson::dom::element root;
  err = parser.parse(storage).get(root);
  if (err == simdjson::NUMBER_ERROR) {
    storage = simdjson::padded_string(widen_big_integers(std::string_view(storage)));
    err = parser.parse(storage).get(root);
  }
  SBERT_CHECK(!err, "[tokenizer] ", file.string(), ": not valid JSON (",
              simdjson::error_message(err), ")");
  return root;
}

std::string join_field(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  std::string s(prefix);
  s += '.';
  s += key;
  return s;
}

void JsonReader::error(std::string_view field, std::string_view what) const {
  fail("[tokenizer] ", file_, ": ", field, " ", what);
}

simdjson::dom::object JsonReader::object(simdjson::dom::element e, std::string_view field) const {
  simdjson::dom::object o;
  if (e.get_object().get(o)) error(field, "must be a JSON object");
  return o;
}

simdjson::dom::array JsonReader::array(simdjson::dom::element e, std::string_view field) const {
  simdjson::dom::array a;
  if (e.get_array().get(a)) error(field, "must be a JSON array");
  return a;
}

std::string_view JsonReader::string(simdjson::dom::element e, std::string_view field) const {
  std::string_view s;
  if (e.get_string().get(s)) error(field, "must be a string");
  return s;
}

bool JsonReader::boolean(simdjson::dom::element e, std::string_view field) const {
  bool b = false;
  if (e.get_bool().get(b)) error(field, "must be true or false");
  return b;
}

int64_t JsonReader::integer(simdjson::dom::element e, std::string_view field, int64_t min,
                            int64_t max) const {
  int64_t v = 0;
  if (e.get_int64().get(v)) error(field, "must be an integer");
  if (v < min || v > max) error(field, cat("must be in [", min, ", ", max, "], got ", v));
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

bool JsonReader::boolean_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                            bool def) const {
  auto e = member(obj, key);
  if (!e || e->is_null()) return def;
  return boolean(*e, field);
}


}  // namespace sbert::tok
