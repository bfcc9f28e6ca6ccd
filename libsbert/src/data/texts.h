// Reading lists of texts for embedding and tokenizing: a plain text file (one text per line,
// "\r\n" or "\n") or JSONL with a string field. Every line is checked; errors name file:line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sbert/util.h"

namespace sbert {


std::vector<std::string> read_text_lines(const std::filesystem::path& path);
std::vector<std::string> read_jsonl_strings(const std::filesystem::path& path,
                                            const std::string& field);

}  // namespace sbert
