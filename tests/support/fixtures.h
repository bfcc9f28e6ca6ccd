// Shared helpers for tests: where the sources, fixtures and the reference model are, the
// fixture texts, temporary folders and running the built apps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sbert::test {

std::filesystem::path source_dir();
std::filesystem::path fixture_dir(const std::string& model);  // tests/fixtures/<model>
// The all-MiniLM-L6-v2 folder ($SBERT_MINILM_DIR or <source>/models/all-MiniLM-L6-v2), or
// nothing when absent: tests needing it then WARN and skip.
std::optional<std::filesystem::path> minilm_dir();
// Model folder for a fixture name: "tiny-bert", "tiny-bert-cls", "tiny-xlmr", "tiny-roberta" or
// "minilm".
std::optional<std::filesystem::path> model_dir(const std::string& model);

// tests/data/<file>, in id order: texts.jsonl (the BERT fixtures) or multilingual.jsonl
// (tiny-xlmr, tiny-roberta).
std::vector<std::string> fixture_texts(const std::string& file = "texts.jsonl");
// The fixture texts of a model's tokens/embeddings/hidden fixtures.
inline std::string texts_file_of(const std::string& model) {
  return model == "tiny-xlmr" || model == "tiny-roberta" ? "multilingual.jsonl" : "texts.jsonl";
}

// Sequences [offsets[i], offsets[i+1]) of a flat id list.
std::vector<std::vector<int32_t>> split_ids(const std::vector<int32_t>& ids,
                                            const std::vector<int64_t>& offsets);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct AppResult {
  int exit_code = -1;
  std::string stdout_text, stderr_text;
};
// Runs build/bin/<app> with the arguments (each shell-quoted) and extra environment
// variables ("NAME=value").
AppResult run_app(const std::string& app, const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {});
// build/bin/<app>, or $SBERT_BIN_DIR/<app> (the GPU bundle's bin/).
std::filesystem::path app_path(const std::string& app);
// Runs argv[0] (found on PATH) with the rest of argv, like run_app.
AppResult run_command(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env = {});

// The bytes of a file ("" when it cannot be read) / writes them, creating parent folders.
std::string slurp(const std::filesystem::path& p);
void put(const std::filesystem::path& p, const std::string& bytes);

// The message of the sbert::Error that fn throws, or "(no error)".
std::string error_of(const std::function<void()>& fn);

// n floats uniform in [-scale / 2, scale / 2), a fixed sequence per seed (an LCG: the same on
// every platform).
std::vector<float> random_floats(size_t n, uint64_t seed, float scale);

// 48 NeMo-format training records (query, pos_doc, 3 neg_doc) from the fixture sentences,
// written to dir/train.jsonl; returns that path.
std::filesystem::path write_train_records(const std::filesystem::path& dir);

// A BEIR folder (corpus, queries, qrels/test.tsv) from the SciFact subset fixture: the queries
// with a relevant document in the corpus, the first `max_queries` of them.
std::filesystem::path write_beir_subset(const std::filesystem::path& dir, size_t max_queries);

}  // namespace sbert::test
