// Helpers of the fp64 finite-difference gradient tests (test_grad*.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace sbert::test {

inline std::vector<double> randn(std::mt19937_64& rng, size_t n, double stddev = 1.0,
                                 double mean = 0.0) {
  std::normal_distribution<double> d(mean, stddev);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// ||a - b|| / ||b||, or ||a - b|| when ||b|| < floor (a gradient that should be ~0).
inline double rel_err(const std::vector<double>& a, const std::vector<double>& b,
                      double floor = 1e-8) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(den) < floor ? std::sqrt(num) : std::sqrt(num / den);
}

// Central differences of the scalar loss() with respect to x[idx] for every idx in idxs
// (x is modified and restored).
inline std::vector<double> numeric_grad(std::vector<double>& x, const std::vector<size_t>& idxs,
                                        const std::function<double()>& loss, double h = 1e-5) {
  std::vector<double> g;
  g.reserve(idxs.size());
  for (size_t i : idxs) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    g.push_back((lp - lm) / (2 * h));
  }
  return g;
}

inline std::vector<double> numeric_grad(std::vector<double>& x, const std::function<double()>& loss,
                                        double h = 1e-5) {
  std::vector<size_t> all(x.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return numeric_grad(x, all, loss, h);
}

// Prints measured errors when SBERT_TEST_VERBOSE is set (for reports; tests assert anyway).
inline void report(const std::string& what, double err) {
  if (std::getenv("SBERT_TEST_VERBOSE")) std::printf("  %-58s rel err %.3e\n", what.c_str(), err);
}

}  // namespace sbert::test
