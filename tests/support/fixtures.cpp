#include "support/fixtures.h"

#include "core/json.h"
#include "sbert/error.h"

#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sbert::test {

namespace fs = std::filesystem;

fs::path source_dir() {
  if (const char* env = std::getenv("SBERT_SOURCE_DIR")) return env;
  return SBERT_SOURCE_DIR;
}

fs::path fixture_dir(const std::string& model) { return source_dir() / "tests/fixtures" / model; }

std::optional<fs::path> minilm_dir() {
  fs::path p;
  if (const char* env = std::getenv("SBERT_MINILM_DIR")) {
    p = env;
  } else {
    p = source_dir() / "models/all-MiniLM-L6-v2";
  }
  if (fs::exists(p / "model.safetensors")) return p;
  return std::nullopt;
}

std::optional<fs::path> model_dir(const std::string& model) {
  if (model == "minilm") return minilm_dir();
  return fixture_dir(model);
}

std::vector<std::string> fixture_texts() {
  std::ifstream in(source_dir() / "tests/data/texts.jsonl", std::ios::binary);
  if (!in) throw std::runtime_error("cannot open tests/data/texts.jsonl");
  std::vector<std::string> texts;
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    simdjson::dom::element doc = parser.parse(line);
    const int64_t id = doc["id"].get_int64();
    if (id != static_cast<int64_t>(texts.size())) throw std::runtime_error("texts out of order");
    texts.emplace_back(std::string_view(doc["text"].get_string()));
  }
  return texts;
}

std::vector<std::vector<int32_t>> split_ids(const std::vector<int32_t>& ids,
                                            const std::vector<int64_t>& offsets) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    out.emplace_back(ids.begin() + offsets[i], ids.begin() + offsets[i + 1]);
  }
  return out;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ =
      fs::temp_directory_path() / ("sbert-test-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(counter++) + "-" + std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}
}  // namespace

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(const fs::path& p, const std::string& bytes) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << bytes;
  if (!out.flush()) throw std::runtime_error("test::put: cannot write " + p.string());
}

fs::path app_path(const std::string& app) { return fs::path(SBERT_BIN_DIR) / app; }

AppResult run_app(const std::string& app, const std::vector<std::string>& args,
                  const std::vector<std::string>& env) {
  std::vector<std::string> argv = {app_path(app).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, env);
}

AppResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  TempDir tmp;
  std::string cmd = "env";
  for (const auto& e : env) {
    cmd += ' ';
    cmd += quote(e);
  }
  for (const auto& a : argv) {
    cmd += ' ';
    cmd += quote(a);
  }
  // Appended piecewise: `"literal" + std::string&&` trips g++ 12's -Wrestrict false positive.
  cmd += " >";
  cmd += quote((tmp / "out").string());
  cmd += " 2>";
  cmd += quote((tmp / "err").string());
  const int status = std::system(cmd.c_str());
  AppResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.stdout_text = slurp(tmp / "out");
  r.stderr_text = slurp(tmp / "err");
  return r;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

fs::path write_train_records(const fs::path& dir) {
  const auto texts = fixture_texts();
  std::string jsonl;
  for (size_t i = 0; i < 48; ++i) {
    const size_t a = 2 * i, b = 2 * i + 1;
    jsonl += "{\"query\": " + json_quote(texts[a]) + ", \"pos_doc\": " + json_quote(texts[b]) +
             ", \"neg_doc\": [" + json_quote(texts[(a + 17) % 200]) + ", " +
             json_quote(texts[(a + 41) % 200]) + ", " + json_quote(texts[(a + 73) % 200]) + "]}\n";
  }
  put(dir / "train.jsonl", jsonl);
  return dir / "train.jsonl";
}

}  // namespace sbert::test
