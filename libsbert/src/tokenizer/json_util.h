// JSON helpers for the tokenizer files: reading with simdjson's DOM API, with messages that name
// the file and the field, and writing strings with JSON escapes.
#pragma once

#include "core/json.h"

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sbert::tok {

// Reads and parses a JSON file. Integers too large for 64 bits (transformers writes
// model_max_length = 1000000000000000019884624838656) are read as doubles. The element lives
// as long as parser and storage. Throws "[tokenizer] <file>: ..." on a missing file or bad JSON.
simdjson::dom::element parse_json_file(const std::filesystem::path& file,
                                       simdjson::dom::parser& parser,
                                       simdjson::padded_string& storage);

// Typed access; `field` is the dotted path used in messages ("normalizer.lowercase").
class JsonReader {
 public:
  explicit JsonReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  [[noreturn]] void error(std::string_view field, std::string_view what) const;

  simdjson::dom::object object(simdjson::dom::element e, std::string_view field) const;
  simdjson::dom::array array(simdjson::dom::element e, std::string_view field) const;
  std::string_view string(simdjson::dom::element e, std::string_view field) const;
  bool boolean(simdjson::dom::element e, std::string_view field) const;
  int64_t integer(simdjson::dom::element e, std::string_view field, int64_t min, int64_t max) const;

  // A member of obj, or nullopt when absent (a JSON null is returned as an element).
  static std::optional<simdjson::dom::element> member(simdjson::dom::object obj,
                                                      std::string_view key);
  // A member that must be present.
  simdjson::dom::element required(simdjson::dom::object obj, std::string_view key,
                                  std::string_view field) const;
  // Optional members with defaults (absent or null gives the default).
  bool boolean_or(simdjson::dom::object obj, std::string_view key, std::string_view field,
                  bool def) const;

 private:
  std::string file_;
};

std::string join_field(std::string_view prefix, std::string_view key);

// Appends s as a JSON string literal (quotes included).
using ::sbert::append_json_string;  // core/json.h

}  // namespace sbert::tok
