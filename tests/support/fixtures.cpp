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
#include <set>
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

std::vector<std::string> fixture_texts(const std::string& file) {
  std::ifstream in(source_dir() / "tests/data" / file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open tests/data/" + file);
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

fs::path app_path(const std::string& app) {
  if (const char* env = std::getenv("SBERT_BIN_DIR")) return fs::path(env) / app;  // a bundle
  return fs::path(SBERT_BIN_DIR) / app;
}

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

// A BEIR folder from the SciFact subset fixture: the corpus, qrels restricted to documents of
// the corpus, and the queries with a relevant document, the first `max_queries` of them.
fs::path write_beir_subset(const fs::path& dir, size_t max_queries) {
  const fs::path src = fixture_dir("eval/scifact-subset");
  fs::create_directories(dir / "qrels");
  fs::copy_file(src / "corpus.jsonl", dir / "corpus.jsonl");
  const std::string corpus = slurp(src / "corpus.jsonl");
  auto field = [](const std::string& line, const std::string& key) {
    const size_t at = line.find("\"" + key + "\": \"");
    if (at == std::string::npos) return std::string();
    const size_t b = at + key.size() + 5;
    return line.substr(b, line.find('"', b) - b);
  };
  std::set<std::string> docs, judged;
  std::istringstream cin(corpus);
  for (std::string line; std::getline(cin, line);) docs.insert(field(line, "_id"));
  std::istringstream qin(slurp(src / "qrels/test.tsv"));
  std::vector<std::pair<std::string, std::string>> relevant;  // (query id, qrels line)
  std::string header;
  for (std::string line; std::getline(qin, line);) {
    std::istringstream cols(line);
    std::string q, d, score;
    cols >> q >> d >> score;
    if (q == "query-id") {
      header = line + "\n";
    } else if (docs.count(d) && score != "0") {
      relevant.emplace_back(q, line + "\n");
      judged.insert(q);
    }
  }
  std::istringstream uin(slurp(src / "queries.jsonl"));
  std::string queries;
  std::set<std::string> kept;
  for (std::string line; std::getline(uin, line) && kept.size() < max_queries;) {
    if (judged.count(field(line, "_id"))) {
      queries += line + "\n";
      kept.insert(field(line, "_id"));
    }
  }
  if (kept.size() != max_queries) {
    throw std::runtime_error("test::write_beir_subset: the fixture has only " +
                             std::to_string(kept.size()) + " judged queries");
  }
  std::string qrels = header;  // only ids that exist: the reader is strict
  for (const auto& [q, line] : relevant)
    if (kept.count(q)) qrels += line;
  put(dir / "qrels/test.tsv", qrels);
  put(dir / "queries.jsonl", queries);
  return dir;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = scale * (static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0) - 0.5f);
  }
  return v;
}

}  // namespace sbert::test
