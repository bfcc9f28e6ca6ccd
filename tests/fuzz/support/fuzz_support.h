// What every fuzz target shares (docs/robustness.md, "Fuzzing").
//
// A target hands its input to a reader through the reader's ordinary entry point: most take a
// path, so the bytes are written to a file in a scratch folder of this process first. An input
// may be several files: the parts are separated by kSeparator (a line "@@@file@@@"), and part i
// becomes the target's i-th file name (a part left out is a file that does not exist).
//
// The expected outcome of bad input is sbert::Error with a one-line, non-empty message; run()
// catches it and checks the message. Anything else escaping (another exception type, a crash,
// an ASan / UBSan report, a hang, > 2 GB) reaches libFuzzer as a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::fuzz {

inline constexpr std::string_view kSeparator = "\n@@@file@@@\n";

// This process's scratch folder (created on first use, removed at exit). The one piece of
// process state of a fuzz target: libFuzzer calls LLVMFuzzerTestOneInput with bytes only.
const std::filesystem::path& scratch();

// The input split at kSeparator into at most max_parts parts (the last part keeps the rest).
std::vector<std::string_view> split(const uint8_t* data, size_t size, size_t max_parts);

// Writes bytes to scratch()/name (creating folders in name), replacing what was there.
std::filesystem::path write_file(const std::string& name, std::string_view bytes);

// Removes scratch()/name (file or folder) if present.
void remove(const std::string& name);

// Writes part i of the input to scratch()/names[i] and removes the files of the parts that are
// absent, so that one input never sees the files of the one before.
void write_parts(const uint8_t* data, size_t size, const std::vector<std::string>& names);

// Runs f; an sbert::Error is the expected outcome of bad input: its message must be one line
// and not empty (else abort: a finding). Other exceptions propagate to libFuzzer.
void run(const std::function<void()>& f);

}  // namespace sbert::fuzz
