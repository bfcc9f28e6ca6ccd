#include "eval/sts.h"

#include <charconv>
#include <chrono>
#include <cmath>

#include "core/check.h"
#include "data/texts.h"
#include "eval/metrics.h"
#include "eval/search.h"

namespace sbert::eval {

namespace fs = std::filesystem;

namespace {

bool parse_score(std::string_view s, double& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

StsData read_sts(const fs::path& file) {
  SBERT_CHECK(fs::exists(file), "[eval] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  StsData data;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    std::vector<std::string_view> cols;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1) {
      cols.push_back(line.substr(start, tab - start));
    }
    cols.push_back(line.substr(start));
    size_t score_col = 0, s1 = 0, s2 = 0;
    if (cols.size() == 3) {
      s1 = 0, s2 = 1, score_col = 2;
    } else if (cols.size() >= 7) {
      score_col = 4, s1 = 5, s2 = 6;
    } else {
      fail("[eval] ", file.string(), ":", i + 1,
           ": expected 3 tab-separated columns (sentence1, sentence2, score) or the STS "
           "benchmark's 7 or more (genre, file, year, id, score, sentence1, sentence2), got ",
           cols.size());
    }
    double score = 0;
    if (!parse_score(cols[score_col], score)) {
      if (data.scores.empty() && i == 0) continue;  // a header line
      fail("[eval] ", file.string(), ":", i + 1, ": score \"", std::string(cols[score_col]),
           "\" (column ", score_col + 1, ") is not a number");
    }
    data.sentences1.emplace_back(cols[s1]);
    data.sentences2.emplace_back(cols[s2]);
    data.scores.push_back(score);
  }
  SBERT_CHECK(data.scores.size() >= 2, "[eval] ", file.string(), ": need at least 2 pairs, found ",
              data.scores.size());
  return data;
}

std::vector<float> sts_cosines(const Model& model, const StsData& data, const EmbedOptions& opt) {
  SBERT_CHECK(data.sentences1.size() == data.sentences2.size() &&
                  data.sentences1.size() == data.scores.size(),
              "[eval] inconsistent StsData");
  Embeddings a = model.embed(data.sentences1, opt);
  Embeddings b = model.embed(data.sentences2, opt);
  l2_normalize_rows(a.data.data(), a.rows, a.dim);
  l2_normalize_rows(b.data.data(), b.rows, b.dim);
  std::vector<float> cos(static_cast<size_t>(a.rows));
  for (int64_t i = 0; i < a.rows; ++i) {
    const float* x = a.row(i);
    const float* y = b.row(i);
    float s = 0;
    for (int64_t j = 0; j < a.dim; ++j) s += x[j] * y[j];
    cos[static_cast<size_t>(i)] = s;
  }
  return cos;
}

StsMetrics score_sts(const std::vector<float>& cosines, const StsData& data) {
  SBERT_CHECK(cosines.size() == data.scores.size(), "[eval] ", cosines.size(),
              " similarities for ", data.scores.size(), " pairs");
  const std::vector<double> sim(cosines.begin(), cosines.end());
  StsMetrics m;
  m.pairs = static_cast<int64_t>(sim.size());
  m.pearson = pearson(data.scores, sim);
  m.spearman = spearman(data.scores, sim);
  return m;
}

StsMetrics evaluate_sts(const Model& model, const StsData& data, const EmbedOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  StsMetrics m = score_sts(sts_cosines(model, data, options), data);
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace sbert::eval
