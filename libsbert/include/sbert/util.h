// Small file helpers the apps share with the library: the same checks and error messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sbert/export.h"

namespace sbert {

// Texts to embed: *.jsonl / *.json -> the string `field` of each JSONL record; anything else ->
// one text per line ("\n" or "\r\n"). Errors name file:line.
SBERT_API std::vector<std::string> read_texts(const std::filesystem::path& path,
                                              const std::string& field = "text");

// A (rows, cols) float32 NumPy .npy file, written atomically.
SBERT_API void write_npy_f32(const std::filesystem::path& path, const float* data, int64_t rows,
                             int64_t cols);

// Writes content to path through a temporary file and a rename: never a partial file, and the
// previous file intact when writing fails (a full disk). "-" is standard output; a device or
// FIFO is written through, never replaced; a symlink's target is replaced, the link kept; a
// folder is refused.
SBERT_API void write_file_atomic(const std::filesystem::path& path, std::string_view content);
// The whole file ("-": standard input to its end); throws "[io] <path>: ..." if unreadable.
SBERT_API std::string read_file(const std::filesystem::path& path);

}  // namespace sbert
