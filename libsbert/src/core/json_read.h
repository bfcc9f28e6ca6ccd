// Reading JSON: the one parser entry point (simdjson's DOM) and the one typed reader for every
// JSON file libsbert reads. Messages name the file, the record and the dotted field, and say
// which JSON type was found: "[tokenizer] t.json: field 'model.vocab' must be an object, got
// [1,2] (an array)".
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sbert/json.h"

namespace sbert {

// "an object", "an array", "a string", "an integer", "a number" (fractional or exponent),
// "a boolean", "null".
const char* json_type_name(simdjson::dom::element e);

// The element as compact JSON, cut to about 60 characters, for messages.
std::string json_excerpt(simdjson::dom::element e);

// Parses text into root. Integer literals too large for 64 bits (transformers writes
// model_max_length = 1000000000000000019884624838656) are read as doubles. The element lives as
// long as parser and storage (and until the parser parses again).
simdjson::error_code parse_json(std::string_view text, simdjson::dom::parser& parser,
                                simdjson::padded_string& storage, simdjson::dom::element& root);

// A parsed document that owns its parser; movable (the parser stays where it is).
class JsonDocument {
 public:
  // Throws "[tag] <file>: file not found | cannot read | not valid JSON (<reason>)".
  static JsonDocument from_file(const std::filesystem::path& file, std::string_view tag);
  // Throws "[tag] <label>: not valid JSON (<reason>)".
  static JsonDocument from_string(std::string_view text, std::string_view label,
                                  std::string_view tag);

  simdjson::dom::element root() const { return root_; }

 private:
  JsonDocument() : parser_(std::make_unique<simdjson::dom::parser>()) {}
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::padded_string storage_;
  simdjson::dom::element root_;
};

// Writes e through w (a parsed document re-emitted, pretty or compact). Fractional numbers keep a
// '.' or an exponent (json_fraction), so that Python reads a float back as a float.
void write_json(JsonWriter& w, simdjson::dom::element e);

// "model" + "vocab" -> "model.vocab"; an empty prefix gives the key.
std::string join_field(std::string_view prefix, std::string_view key);

// Typed access to elements of one file (and one record of it, for JSONL and arrays of records).
// `field` is the dotted path used in messages ("normalizer.lowercase"); an empty field is the
// record itself (or the document). Every accessor throws sbert::Error:
//   "[tag] <file>: <record>: field '<field>' must be <expected>, got <excerpt> (<type>)",
// and error() for the rest: "[tag] <file>: <record>: <field> <what>".
class JsonReader {
 public:
  JsonReader(std::string tag, std::string file, std::string record = {})
      : tag_(std::move(tag)), file_(std::move(file)), record_(std::move(record)) {}
  const std::string& file() const { return file_; }
  const std::string& record() const { return record_; }
  // The same file, another record ("line 12", "record 3").
  JsonReader at(std::string record) const { return JsonReader(tag_, file_, std::move(record)); }

  // "[tag] file: record: " -- the prefix of every message from this reader.
  std::string where() const;
  // "[tag] file: record: f <what>" (no field part when field is empty).
  [[noreturn]] void error(std::string_view field, std::string_view what) const;
  // "... field 'f' must be <expected>, got <excerpt> (<type of e>)"; an empty field names "the
  // document" (or "the record" when the reader has a record).
  [[noreturn]] void type_error(std::string_view field, simdjson::dom::element e,
                               std::string_view expected) const;

  simdjson::dom::object object(simdjson::dom::element e, std::string_view field) const;
  simdjson::dom::array array(simdjson::dom::element e, std::string_view field) const;
  std::string_view string(simdjson::dom::element e, std::string_view field) const;
  bool boolean(simdjson::dom::element e, std::string_view field) const;
  // An integer in [min, max]; a fractional number or one out of range is an error.
  int64_t integer(simdjson::dom::element e, std::string_view field, int64_t min,
                  int64_t max) const;
  // Any JSON number (integers included) as a double.
  double number(simdjson::dom::element e, std::string_view field) const;

  // A member of obj, or nullopt when absent (a JSON null is returned as an element).
  static std::optional<simdjson::dom::element> member(simdjson::dom::object obj,
                                                      std::string_view key);
  // A member that must be present: "field 'f' is missing".
  simdjson::dom::element required(simdjson::dom::object obj, std::string_view key,
                                  std::string_view field) const;
  // Optional members with defaults: absent or null gives def.
  bool boolean_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                  bool def) const;
  std::string string_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                        std::string_view def) const;
  int64_t integer_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                     int64_t min, int64_t max, int64_t def) const;
  double number_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                   double def) const;

 private:
  std::string tag_;
  std::string file_;
  std::string record_;
};

}  // namespace sbert
