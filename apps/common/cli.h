// What every sbert-* app shares: a small --key value parser and the error-to-exit wrapper.
// Apps are thin: parse, call the library, report. Only apps exit; the library throws.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sbert::cli {

struct Option {
  std::string name;  // "--model"
  std::string help;
  bool takes_value = true;
  bool required = false;
  std::string fallback;  // default value, shown in --help
};

class Args {
 public:
  // Throws UsageError on unknown options, missing values or missing required options.
  Args(int argc, char** argv, std::string program, std::string summary, std::vector<Option> options,
       bool allow_positional = false);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // value or the option's fallback
  int get_int(const std::string& name) const;      // throws UsageError if not an integer
  double get_double(const std::string& name) const;
  bool flag(const std::string& name) const { return has(name); }
  const std::vector<std::string>& positional() const { return positional_; }
  // --help: the usage text; --version: "<program> X.Y.Z (libsbert X.Y.Z)". Both set
  // help_requested(), and every app prints usage() and exits 0 then.
  std::string usage() const;
  bool help_requested() const { return help_; }

 private:
  std::string program_, summary_;
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
  bool version_ = false;
};

struct UsageError {
  std::string message;
};

// An output path whose extension names another format is a UsageError ("--output out.csv" for a
// .npy writer): "--output must name a .npy file (float32 NumPy), got 'out.csv'". A path without
// an extension is accepted as given.
void require_extension(const std::string& option, const std::string& path, const std::string& ext,
                       const std::string& format);

// An output that is the same file as one of the inputs (after symlinks and hard links) is a
// UsageError: "--output 'a.txt' is the input file 'a.txt' (--input); writing it would destroy
// the input". inputs: (option, path) pairs; "-" and paths that do not exist are skipped.
void require_not_an_input(const std::string& option, const std::string& output,
                          const std::vector<std::pair<std::string, std::string>>& inputs);

// Runs body; maps UsageError to exit 2 and sbert::Error / std::exception to exit 1, each with a
// single line "<program>: error: <message>" on stderr.
int run(const std::string& program, const std::function<int()>& body);

}  // namespace sbert::cli
