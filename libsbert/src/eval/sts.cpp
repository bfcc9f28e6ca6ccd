#include "eval/sts.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

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

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> cols;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1) {
    cols.push_back(line.substr(start, tab - start));
  }
  cols.push_back(line.substr(start));
  return cols;
}

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::string out;
  for (const char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The columns of sentence1, sentence2 and score (any order, case-insensitive, other columns
// ignored) when cols is a header naming all three; else nothing (an unnamed header, or data).
std::optional<std::array<size_t, 3>> header_columns(const std::vector<std::string_view>& cols,
                                                    const fs::path& file, size_t line) {
  static constexpr std::array<const char*, 3> kNames{"sentence1", "sentence2", "score"};
  std::array<std::optional<size_t>, 3> at;
  for (size_t c = 0; c < cols.size(); ++c) {
    const std::string name = lower_trimmed(cols[c]);
    for (size_t k = 0; k < kNames.size(); ++k) {
      if (name != kNames[k]) continue;
      SBERT_CHECK(!at[k], "[eval] ", file.string(), ":", line, ": the header names column '",
                  kNames[k], "' twice (columns ", *at[k] + 1, " and ", c + 1, ")");
      at[k] = c;
    }
  }
  if (!at[0] || !at[1] || !at[2]) return std::nullopt;
  return std::array<size_t, 3>{*at[0], *at[1], *at[2]};
}

}  // namespace

StsData read_sts(const fs::path& file) {
  SBERT_CHECK(fs::exists(file), "[eval] ", file.string(), ": no such file");
  const std::vector<std::string> lines = read_text_lines(file);
  StsData data;
  // Columns named by a header line (sentence1, sentence2, score in any order), else by count.
  std::optional<std::array<size_t, 3>> named;  // s1, s2, score
  bool first = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::vector<std::string_view> cols = split_tabs(line);
    if (first) {
      first = false;
      named = header_columns(cols, file, i + 1);
      if (named) continue;
    }
    size_t score_col = 0, s1 = 0, s2 = 0;
    if (named) {
      s1 = (*named)[0], s2 = (*named)[1], score_col = (*named)[2];
      const size_t need = std::max({s1, s2, score_col}) + 1;
      SBERT_CHECK(cols.size() >= need, "[eval] ", file.string(), ":", i + 1, ": expected ", need,
                  " tab-separated columns as the header names, got ", cols.size());
    } else if (cols.size() == 3) {
      s1 = 0, s2 = 1, score_col = 2;
    } else if (cols.size() >= 7) {
      score_col = 4, s1 = 5, s2 = 6;
    } else {
      fail("[eval] ", file.string(), ":", i + 1,
           ": expected 3 tab-separated columns (sentence1, sentence2, score), a header naming "
           "them, or the STS benchmark's 7 or more (genre, file, year, id, score, sentence1, "
           "sentence2), got ",
           cols.size());
    }
    double score = 0;
    if (!parse_score(cols[score_col], score)) {
      if (data.scores.empty() && i == 0 && !named) continue;  // an unnamed header line
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

std::vector<float> pair_cosines(const Embeddings& a, const Embeddings& b, int64_t d) {
  SBERT_CHECK(a.rows == b.rows && a.dim == b.dim && d >= 1 && d <= a.dim,
              "[eval] pair_cosines: ", a.rows, " x ", a.dim, " and ", b.rows, " x ", b.dim,
              " embeddings, ", d, " dimensions");
  std::vector<float> x(static_cast<size_t>(a.rows * d)), y(x.size());
  for (int64_t i = 0; i < a.rows; ++i) {
    std::copy_n(a.row(i), d, x.begin() + i * d);
    std::copy_n(b.row(i), d, y.begin() + i * d);
  }
  l2_normalize_rows(x.data(), a.rows, d);
  l2_normalize_rows(y.data(), b.rows, d);
  std::vector<float> cos(static_cast<size_t>(a.rows));
  for (int64_t i = 0; i < a.rows; ++i) {
    float s = 0;
    for (int64_t j = 0; j < d; ++j)
      s += x[static_cast<size_t>(i * d + j)] * y[static_cast<size_t>(i * d + j)];
    cos[static_cast<size_t>(i)] = s;
  }
  return cos;
}

namespace {

std::pair<Embeddings, Embeddings> embed_pairs(const Model& model, const StsData& data,
                                              const EmbedOptions& opt) {
  SBERT_CHECK(data.sentences1.size() == data.sentences2.size() &&
                  data.sentences1.size() == data.scores.size(),
              "[eval] inconsistent StsData");
  Embeddings a = model.embed(data.sentences1, opt);
  Embeddings b = model.embed(data.sentences2, opt);
  return {std::move(a), std::move(b)};
}

}  // namespace

std::vector<float> sts_cosines(const Model& model, const StsData& data, const EmbedOptions& opt) {
  const auto [a, b] = embed_pairs(model, data, opt);
  return pair_cosines(a, b, a.dim);
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
  m.dim = options.truncate_dim > 0 ? options.truncate_dim : model.dim();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

std::vector<StsMetrics> evaluate_sts_matryoshka(const Model& model, const StsData& data,
                                                const std::vector<int>& dims,
                                                const EmbedOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  SBERT_CHECK(!dims.empty(), "[eval] no embedding dimensions to evaluate");
  const auto [a, b] = embed_pairs(model, data, options);
  std::vector<StsMetrics> out;
  for (size_t i = 0; i < dims.size(); ++i) {
    const int d = dims[i];
    SBERT_CHECK(d >= 1 && d <= a.dim, "[eval] matryoshka dimension ", d,
                " is out of range: the embeddings have ", a.dim, " dimensions (1..", a.dim, ")");
    for (size_t j = 0; j < i; ++j) {
      SBERT_CHECK(dims[j] != d, "[eval] dimension ", d, " is listed twice");
    }
    out.push_back(score_sts(pair_cosines(a, b, d), data));
    out.back().dim = d;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (StsMetrics& m : out) m.seconds = secs;
  return out;
}

}  // namespace sbert::eval
