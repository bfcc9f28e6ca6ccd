// The tokenizer files are read with the one JSON layer (core/json_read.h: JsonReader with the
// tag "tokenizer"); this header only opens a file with the "[tokenizer]" messages.
#pragma once

#include <simdjson.h>

#include <filesystem>
#include <string>

#include "core/json.h"
#include "core/json_read.h"

namespace sbert::tok {

// Reads and parses a JSON file (big integers read as doubles). The element lives as long as
// parser and storage. Throws "[tokenizer] <file>: ..." on a missing file or bad JSON.
simdjson::dom::element parse_json_file(const std::filesystem::path& file,
                                       simdjson::dom::parser& parser,
                                       simdjson::padded_string& storage);

using ::sbert::append_json_string;  // core/json.h
using ::sbert::join_field;          // core/json_read.h
using ::sbert::JsonReader;          // core/json_read.h

}  // namespace sbert::tok
