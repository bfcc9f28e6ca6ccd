// Checksums of a folder's files: the damage detector of checkpoints (docs/robustness.md).
//
// The manifest "checksums.xxh128" lists every regular file under the folder (recursively,
// sorted, itself excluded) with its XXH3-128 hash, in the format of xxhsum's `xxh128sum`:
//   "<32 lowercase hex>  <path relative to the folder, '/'-separated>\n"
// so `cd <checkpoint> && xxh128sum -c checksums.xxh128` checks it without libsbert.
//
// Why XXH3-128 and not SHA-256: the threat is damage (bit rot, truncation, a partial copy, an
// edited file), not an adversary, who could rewrite the manifest as well; XXH3 hashes at memory
// speed (a BERT-large checkpoint with its optimizer state is ~4 GB), and a 128-bit hash misses
// a random change with probability 2^-128.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sbert {

inline constexpr const char* kChecksumManifest = "checksums.xxh128";

// XXH3-128 of a file's bytes as 32 lowercase hex digits (xxh128sum's canonical form).
std::string xxh128_file(const std::filesystem::path& file);

// Writes <dir>/checksums.xxh128 (atomically) over every other regular file under dir.
// Throws naming the folder when it holds something that is not a regular file or a folder.
void write_checksum_manifest(const std::filesystem::path& dir);

// Checks <dir>/checksums.xxh128: every listed file exists and has its hash. Returns the
// problems, one line each and naming the file ("model.safetensors: checksum mismatch (the
// file is damaged)", "optimizer.safetensors: missing", "checksums.xxh128: line 3 is not
// '<hash>  <file>'"); empty when the folder is intact. Files not listed are not checked (they
// are not read when resuming). A missing manifest is one problem.
std::vector<std::string> verify_checksum_manifest(const std::filesystem::path& dir);

}  // namespace sbert
