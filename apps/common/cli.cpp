#include "cli.h"

#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "sbert/error.h"
#include "sbert/version.h"

namespace sbert::cli {

Args::Args(int argc, char** argv, std::string program, std::string summary,
           std::vector<Option> options, bool allow_positional)
    : program_(std::move(program)), summary_(std::move(summary)), options_(std::move(options)) {
  auto find = [&](const std::string& name) -> const Option* {
    for (const Option& o : options_) {
      if (o.name == name) return &o;
    }
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      return;
    }
    if (a == "--version") {
      help_ = version_ = true;
      return;
    }
    if (a.rfind("--", 0) != 0) {
      if (!allow_positional) throw UsageError{"unexpected argument '" + a + "'"};
      positional_.push_back(a);
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    const Option* o = find(a);
    if (!o) throw UsageError{"unknown option '" + a + "' (see --help)"};
    if (o->takes_value && !inline_value) {
      if (i + 1 >= argc) throw UsageError{"option " + a + " needs a value"};
      value = argv[++i];
    }
    if (!o->takes_value && inline_value) throw UsageError{"option " + a + " takes no value"};
    values_[a] = value;
  }
  for (const Option& o : options_) {
    if (o.required && !values_.count(o.name)) {
      throw UsageError{"missing required option " + o.name + " (see --help)"};
    }
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  for (const Option& o : options_) {
    if (o.name == name) return o.fallback;
  }
  return "";
}

int Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    throw UsageError{"option " + name + " expects an integer, got '" + v + "'"};
  }
  return out;
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  throw UsageError{"option " + name + " expects a number, got '" + v + "'"};
}

std::string Args::usage() const {
  std::ostringstream s;
  if (version_) {
    s << program_ << " " << SBERT_VERSION_STRING << " (libsbert " << sbert::version() << ")\n";
    return s.str();
  }
  s << "usage: " << program_;
  for (const Option& o : options_) {
    s << (o.required ? " " : " [") << o.name << (o.takes_value ? " VALUE" : "")
      << (o.required ? "" : "]");
  }
  s << "\n\n" << summary_ << "\n\noptions:\n";
  for (const Option& o : options_) {
    s << "  " << o.name << (o.takes_value ? " VALUE" : "") << "\n      " << o.help;
    if (!o.fallback.empty()) s << " (default: " << o.fallback << ")";
    s << "\n";
  }
  return s.str();
}

void require_extension(const std::string& option, const std::string& path, const std::string& ext,
                       const std::string& format) {
  const std::filesystem::path p(path);
  if (p.has_extension() && p.extension() != ext) {
    throw UsageError{option + " must name a " + ext + " file (" + format + "), got '" + path + "'"};
  }
}

void require_not_an_input(const std::string& option, const std::string& output,
                          const std::vector<std::pair<std::string, std::string>>& inputs) {
  if (output == "-") return;
  for (const auto& [in_option, input] : inputs) {
    if (input == "-") continue;
    std::error_code ec;
    if (std::filesystem::equivalent(output, input, ec) && !ec) {
      throw UsageError{option + " '" + output + "' is the input file '" + input + "' (" +
                       in_option + "); writing it would destroy the input"};
    }
  }
}

int run(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.message.c_str());
    return 2;
  } catch (const sbert::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  }
}

}  // namespace sbert::cli
