#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "core/check.h"

namespace sbert::eval {

int RetrievalKs::max_k() const {
  int m = 0;
  for (const auto* list : {&accuracy, &precision_recall, &mrr, &ndcg, &map}) {
    for (int k : *list) {
      SBERT_CHECK(k >= 1, "[eval] metric cut-off k must be >= 1, got ", k);
      m = std::max(m, k);
    }
  }
  SBERT_CHECK(m >= 1, "[eval] no retrieval metric requested");
  return m;
}

bool RetrievalMetrics::has(const std::string& name) const {
  return std::any_of(values.begin(), values.end(),
                     [&](const MetricValue& v) { return v.name() == name; });
}

double RetrievalMetrics::get(const std::string& name) const {
  for (const auto& v : values) {
    if (v.name() == name) return v.value;
  }
  fail("[eval] metric ", name, " was not computed");
}

double dcg_at_k(const std::vector<int>& relevances, int k) {
  double dcg = 0;
  const size_t n = std::min(relevances.size(), static_cast<size_t>(std::max(k, 0)));
  for (size_t i = 0; i < n; ++i) dcg += relevances[i] / std::log2(static_cast<double>(i) + 2.0);
  return dcg;
}

namespace {

std::vector<int> sorted_unique(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

RetrievalMetrics compute_retrieval_metrics(const std::vector<std::vector<int64_t>>& ranked,
                                           const std::vector<Relevance>& rel,
                                           const RetrievalKs& ks) {
  ks.max_k();  // validates the cut-offs
  SBERT_CHECK(ranked.size() == rel.size(), "[eval] ", ranked.size(), " rankings for ", rel.size(),
              " queries");
  SBERT_CHECK(!ranked.empty(), "[eval] no query to evaluate");
  const auto acc_k = sorted_unique(ks.accuracy), pr_k = sorted_unique(ks.precision_recall),
             mrr_k = sorted_unique(ks.mrr), ndcg_k = sorted_unique(ks.ndcg),
             map_k = sorted_unique(ks.map);
  const size_t nq = ranked.size();
  std::vector<double> hits(acc_k.size(), 0.0), mrr(mrr_k.size(), 0.0);
  std::vector<std::vector<double>> precision(pr_k.size()), recall(pr_k.size()),
      ndcg(ndcg_k.size()), ap(map_k.size());

  for (size_t q = 0; q < nq; ++q) {
    const Relevance& r = rel[q];
    SBERT_CHECK(r.count >= 1 && r.count >= static_cast<int64_t>(r.docs.size()), "[eval] query ", q,
                ": relevant count ", r.count, " with ", r.docs.size(), " relevant documents");
    const std::unordered_set<int64_t> relevant(r.docs.begin(), r.docs.end());
    // is_rel[i]: whether the hit at rank i (0-based) is relevant
    std::vector<int> is_rel;
    is_rel.reserve(ranked[q].size());
    for (int64_t d : ranked[q]) is_rel.push_back(relevant.count(d) ? 1 : 0);
    const auto top = [&](int k) { return std::min(is_rel.size(), static_cast<size_t>(k)); };

    for (size_t j = 0; j < acc_k.size(); ++j) {
      for (size_t i = 0; i < top(acc_k[j]); ++i) {
        if (is_rel[i]) {
          hits[j] += 1;
          break;
        }
      }
    }
    for (size_t j = 0; j < pr_k.size(); ++j) {
      int correct = 0;
      for (size_t i = 0; i < top(pr_k[j]); ++i) correct += is_rel[i];
      precision[j].push_back(static_cast<double>(correct) / pr_k[j]);
      recall[j].push_back(static_cast<double>(correct) / static_cast<double>(r.count));
    }
    for (size_t j = 0; j < mrr_k.size(); ++j) {
      for (size_t i = 0; i < top(mrr_k[j]); ++i) {
        if (is_rel[i]) {
          mrr[j] += 1.0 / static_cast<double>(i + 1);
          break;
        }
      }
    }
    for (size_t j = 0; j < ndcg_k.size(); ++j) {
      const std::vector<int> predicted(is_rel.begin(), is_rel.begin() + static_cast<ptrdiff_t>(top(ndcg_k[j])));
      const std::vector<int> ideal(static_cast<size_t>(r.count), 1);
      ndcg[j].push_back(dcg_at_k(predicted, ndcg_k[j]) / dcg_at_k(ideal, ndcg_k[j]));
    }
    for (size_t j = 0; j < map_k.size(); ++j) {
      int correct = 0;
      double sum_precisions = 0;
      for (size_t i = 0; i < top(map_k[j]); ++i) {
        if (is_rel[i]) {
          ++correct;
          sum_precisions += static_cast<double>(correct) / static_cast<double>(i + 1);
        }
      }
      ap[j].push_back(sum_precisions /
                      static_cast<double>(std::min<int64_t>(map_k[j], r.count)));
    }
  }

  RetrievalMetrics m;
  m.queries = static_cast<int64_t>(nq);
  const double n = static_cast<double>(nq);
  for (size_t j = 0; j < ndcg_k.size(); ++j) m.values.push_back({"ndcg", ndcg_k[j], mean(ndcg[j])});
  for (size_t j = 0; j < mrr_k.size(); ++j) m.values.push_back({"mrr", mrr_k[j], mrr[j] / n});
  for (size_t j = 0; j < map_k.size(); ++j) m.values.push_back({"map", map_k[j], mean(ap[j])});
  for (size_t j = 0; j < pr_k.size(); ++j) m.values.push_back({"recall", pr_k[j], mean(recall[j])});
  for (size_t j = 0; j < pr_k.size(); ++j) {
    m.values.push_back({"precision", pr_k[j], mean(precision[j])});
  }
  for (size_t j = 0; j < acc_k.size(); ++j) m.values.push_back({"accuracy", acc_k[j], hits[j] / n});
  return m;
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  const size_t n = x.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(n);
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && x[order[j]] == x[order[i]]) ++j;
    // positions i..j-1 (0-based) hold equal values: ranks i+1..j, average (i + 1 + j) / 2
    const double avg = (static_cast<double>(i) + 1.0 + static_cast<double>(j)) / 2.0;
    for (size_t t = i; t < j; ++t) ranks[order[t]] = avg;
    i = j;
  }
  return ranks;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  SBERT_CHECK(x.size() == y.size(), "[eval] pearson: ", x.size(), " vs ", y.size(), " values");
  SBERT_CHECK(x.size() >= 2, "[eval] pearson: need at least 2 pairs, got ", x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    SBERT_CHECK(std::isfinite(x[i]) && std::isfinite(y[i]), "[eval] pearson: value ", i,
                " is not finite (", x[i], ", ", y[i], ")");
  }
  const double xmean = mean(x), ymean = mean(y);
  std::vector<double> xm(x.size()), ym(y.size());
  double xmax = 0, ymax = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xm[i] = x[i] - xmean;
    ym[i] = y[i] - ymean;
    xmax = std::max(xmax, std::fabs(xm[i]));
    ymax = std::max(ymax, std::fabs(ym[i]));
  }
  if (xmax == 0 || ymax == 0) return std::numeric_limits<double>::quiet_NaN();
  double nx = 0, ny = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xm[i] /= xmax;
    ym[i] /= ymax;
    nx += xm[i] * xm[i];
    ny += ym[i] * ym[i];
  }
  nx = std::sqrt(nx);
  ny = std::sqrt(ny);
  double r = 0;
  for (size_t i = 0; i < x.size(); ++i) r += (xm[i] / nx) * (ym[i] / ny);
  return std::clamp(r, -1.0, 1.0);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  SBERT_CHECK(x.size() == y.size(), "[eval] spearman: ", x.size(), " vs ", y.size(), " values");
  for (size_t i = 0; i < x.size(); ++i) {
    SBERT_CHECK(std::isfinite(x[i]) && std::isfinite(y[i]), "[eval] spearman: value ", i,
                " is not finite (", x[i], ", ", y[i], ")");
  }
  return pearson(average_ranks(x), average_ranks(y));
}

}  // namespace sbert::eval
