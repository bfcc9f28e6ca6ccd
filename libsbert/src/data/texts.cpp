#include "data/texts.h"

#include <simdjson.h>

#include "core/check.h"
#include "core/json_read.h"
#include "core/utf8.h"
#include "io/atomic_file.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// Splits content into lines (dropping one trailing newline and any "\r" before "\n"),
// checking each is valid UTF-8.
std::vector<std::string> split_lines(const fs::path& path, const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t lineno = 1;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (lineno == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
    const size_t bad = find_invalid_utf8(line);
    SBERT_CHECK(bad == std::string_view::npos, "[input] ", path.string(), ":", lineno,
                ": not valid UTF-8 (byte ", bad + 1, " of the line)");
    lines.emplace_back(line);
    start = end + 1;
    ++lineno;
  }
  return lines;
}

}  // namespace

std::vector<std::string> read_text_lines(const fs::path& path) {
  return split_lines(path, read_file(path));
}

std::vector<std::string> read_jsonl_strings(const fs::path& path, const std::string& field) {
  const std::vector<std::string> lines = split_lines(path, read_file(path));
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  simdjson::padded_string storage;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines
    simdjson::dom::element doc;
    auto err = parse_json(line, parser, storage, doc);
    SBERT_CHECK(!err, "[input] ", path.string(), ":", i + 1, ": not valid JSON (",
                simdjson::error_message(err), ")");
    SBERT_CHECK(doc.is_object(), "[input] ", path.string(), ":", i + 1, ": expected a JSON object, got ",
                json_type_name(doc));
    simdjson::dom::element value;
    SBERT_CHECK(!doc[field].get(value), "[input] ", path.string(), ":", i + 1, ": missing field \"",
                field, "\"");
    std::string_view s;
    SBERT_CHECK(!value.get(s), "[input] ", path.string(), ":", i + 1, ": field \"", field,
                "\" is not a string (",
                json_type_name(value), ")");
    out.emplace_back(s);
  }
  return out;
}

std::vector<std::string> read_texts(const fs::path& path, const std::string& field) {
  const std::string ext = path.extension().string();
  if (ext == ".jsonl" || ext == ".json") return read_jsonl_strings(path, field);
  return read_text_lines(path);
}

}  // namespace sbert
