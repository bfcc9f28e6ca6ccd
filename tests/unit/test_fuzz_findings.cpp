// Regression tests for what fuzzing found (tests/fuzz/, docs/robustness.md): each feeds the
// minimized input, committed under tests/fixtures/fuzz/, to the reader and checks the error.
#include <catch2/catch.hpp>

#include <string>

#include "core/check.h"
#include "data/train_reader.h"
#include "io/npy.h"
#include "sbert/train.h"
#include "support/fixtures.h"

namespace {

std::filesystem::path finding(const std::string& name) {
  return sbert::test::source_dir() / "tests/fixtures/fuzz" / name;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sbert::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("one_line escapes line breaks and control bytes, keeps tabs and UTF-8", "[fuzz]") {
  CHECK(sbert::one_line("a\nb\r\nc\td\x1b[0m\x7f é") == "a\\nb\\r\\nc\td\\x1b[0m\x7f é");
  CHECK(error_of([] { sbert::fail("[x] '", std::string("a\nb"), "'"); }) == "[x] 'a\\nb'");
}

// The header dict of an .npy file ends in '\n', and errors quoted the dict as it was: every
// malformed header gave a two-line message.
TEST_CASE("fuzz finding: an .npy header that breaks the line gives a one-line error",
          "[fuzz][npy]") {
  const std::string m =
      error_of([] { (void)sbert::read_npy_f32(finding("npy_header_line_break.npy")); });
  CHECK(m.find("npy_header_line_break.npy: header dict: expected a closing quote") !=
        std::string::npos);
  CHECK(m.find("'x\\n'") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
}

// A quoted CSV header field may hold a line break; the duplicate-column error quoted it as is.
TEST_CASE("fuzz finding: a CSV header column with a line break, named twice, gives a one-line "
          "error",
          "[fuzz][train-data]") {
  const std::string m = error_of(
      [] { (void)sbert::TrainDataset::open(finding("csv_header_line_break.csv")); });
  CHECK(m.find("csv_header_line_break.csv:line 1: the header names column 'x\\ny' twice") !=
        std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
}

// YAML allows a list or a mapping as a key ("? {a: 1}: 3"); the configuration reader converted
// every key to a string, and yaml-cpp's TypedBadConversion escaped instead of sbert::Error.
TEST_CASE("fuzz finding: a YAML key that is a mapping or a list is an error naming the line",
          "[fuzz][config]") {
  const std::string m = error_of([] {
    (void)sbert::TrainOptions::from_nemo_yaml(finding(""), "yaml_mapping_as_key.yaml");
  });
  CHECK(m.find("yaml_mapping_as_key.yaml:2: a key under 'trainer' is a mapping, not a name") !=
        std::string::npos);
  CHECK(error_of([] {
          (void)sbert::TrainOptions::from_nemo_yaml_text("? [a, b]\n: 1\n", "x.yaml");
        }) == "[config] x.yaml:1: a key is a list, not a name");
}
