// Where the apps write: "-" is standard output (and standard input for --input), a device or
// FIFO is written through and never replaced, a symlink keeps being a link, a folder or an
// input file is refused, and a write that fails midway (a full disk: here a file size limit)
// leaves the previous file as it was.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <string>

#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::put;
using test::slurp;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// sbert-tokenize on the tiny model: the texts file, the output, extra shell before the app.
test::AppResult tokenize(const std::string& input, const std::string& output,
                         const std::string& shell_prefix = "") {
  const std::string cmd = shell_prefix + "exec " + quote(test::app_path("sbert-tokenize").string()) +
                          " --model " + quote(test::fixture_dir("tiny-bert").string()) +
                          " --input " + quote(input) + " --output " + quote(output);
  return test::run_command({"sh", "-c", cmd});
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("outputs: '-' is standard output and standard input", "[outputs]") {
  test::TempDir tmp;
  put(tmp / "texts.txt", "first text\nsecond text\n");
  const auto file = tokenize((tmp / "texts.txt").string(), (tmp / "ids.jsonl").string());
  REQUIRE(file.exit_code == 0);
  const auto out = tokenize((tmp / "texts.txt").string(), "-");
  INFO(out.stderr_text);
  REQUIRE(out.exit_code == 0);
  CHECK(out.stdout_text == slurp(tmp / "ids.jsonl"));
  CHECK(count_lines(out.stdout_text) == 2);
  const auto in = tokenize("-", "-", "printf 'first text\\nsecond text\\n' | ");
  REQUIRE(in.exit_code == 0);
  CHECK(in.stdout_text == out.stdout_text);
}

TEST_CASE("outputs: a device, FIFO or symlink is written through, never replaced", "[outputs]") {
  test::TempDir tmp;
  put(tmp / "texts.txt", "first text\nsecond text\n");
  SECTION("a null device stays a character device") {
    // Not /dev/null itself: run as root, a regression would replace the machine's /dev/null.
    // A node of the same device (1, 3) in the temp folder shows the same, harmlessly; without
    // the right to create one, /dev/null (which a non-root user cannot replace anyway).
    fs::path dev = tmp / "null";
    if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
      WARN("mknod not permitted here: checking /dev/null");
      dev = "/dev/null";
    }
    const auto r = tokenize((tmp / "texts.txt").string(), dev.string());
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    CHECK(fs::is_character_file(dev));
    for (const auto& e : fs::directory_iterator(dev.parent_path())) {
      CHECK(e.path().filename().string().rfind("null.tmp", 0) == std::string::npos);
    }
  }
  SECTION("a FIFO is written into") {
    REQUIRE(::mkfifo((tmp / "pipe").c_str(), 0600) == 0);
    const auto r = tokenize((tmp / "texts.txt").string(), (tmp / "pipe").string(),
                            "cat " + quote((tmp / "pipe").string()) + " > " +
                                quote((tmp / "read.jsonl").string()) + " & ");
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    test::run_command({"sh", "-c", "wait; sleep 0.2"});
    CHECK(fs::is_fifo(tmp / "pipe"));
  }
  SECTION("a symlink keeps being a link; its target gets the output") {
    put(tmp / "real.jsonl", "old\n");
    fs::create_symlink(tmp / "real.jsonl", tmp / "link.jsonl");
    const auto r = tokenize((tmp / "texts.txt").string(), (tmp / "link.jsonl").string());
    INFO(r.stderr_text);
    REQUIRE(r.exit_code == 0);
    CHECK(fs::is_symlink(tmp / "link.jsonl"));
    CHECK(count_lines(slurp(tmp / "real.jsonl")) == 2);
  }
  SECTION("a folder is refused in one line") {
    fs::create_directories(tmp / "dir.jsonl");
    const auto r = tokenize((tmp / "texts.txt").string(), (tmp / "dir.jsonl").string());
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("is a folder, not a file"));
    CHECK(count_lines(r.stderr_text) == 1);
    CHECK(fs::is_directory(tmp / "dir.jsonl"));
  }
}

TEST_CASE("outputs: an output that is an input is refused", "[outputs]") {
  test::TempDir tmp;
  put(tmp / "texts.txt", "first text\nsecond text\n");
  fs::create_symlink(tmp / "texts.txt", tmp / "alias.txt");
  for (const std::string& out : {(tmp / "texts.txt").string(), (tmp / "alias.txt").string()}) {
    const auto r = tokenize((tmp / "texts.txt").string(), out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.stderr_text, Contains("is the input file"));
    CHECK(slurp(tmp / "texts.txt") == "first text\nsecond text\n");
  }
}

TEST_CASE("outputs: a write that fails midway (disk full) leaves the previous file intact",
          "[outputs]") {
  test::TempDir tmp;
  std::string texts;
  for (int i = 0; i < 4000; ++i) texts += "text number " + std::to_string(i) + " of the list\n";
  put(tmp / "texts.txt", texts);
  put(tmp / "ids.jsonl", "what the user had\n");
  // A 16 KiB file size limit (the output is ~200 KiB): the write fails with EFBIG, as on a
  // full disk (SIGXFSZ ignored: an ignored signal stays ignored across exec). Not smaller:
  // LLVM's OpenMP runtime (the clang sanitizer build) sizes a 1 KiB shared-memory file at
  // start-up and dies when it cannot.
  const auto r = tokenize((tmp / "texts.txt").string(), (tmp / "ids.jsonl").string(),
                          "ulimit -f 16; trap '' XFSZ; ");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.stderr_text, Contains("write failed"));
  CHECK_THAT(r.stderr_text, Contains("the previous file is untouched"));
  CHECK(count_lines(r.stderr_text) == 1);
  CHECK(slurp(tmp / "ids.jsonl") == "what the user had\n");
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("outputs: sbert-eval --output - prints the JSON alone on stdout", "[outputs]") {
  const auto r = test::run_app(
      "sbert-eval", {"--model", test::fixture_dir("tiny-bert").string(), "--sts",
                     (test::source_dir() / "tests/fixtures/eval/stsb-dev-sample.tsv").string(),
                     "--output", "-"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  REQUIRE_FALSE(r.stdout_text.empty());
  CHECK(r.stdout_text.front() == '{');
  CHECK(r.stdout_text.find("spearman") != std::string::npos);
  CHECK(r.stdout_text.find("metric") == std::string::npos);  // the table is on stderr
  CHECK_THAT(r.stderr_text, Contains("spearman"));
}
