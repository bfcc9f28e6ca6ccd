// Row-wise L2 normalisation as torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12):
// u = x / max(||x||, eps), and its backward. Shared by the objectives (cos_sim normalises).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace sbert::objectives {

constexpr double kNormEps = 1e-12;

// u (rows, H) and norm (rows): the normalised rows and max(||x||, eps). x (rows, H), row stride
// ld (>= H: Matryoshka reads the first H columns of wider rows).
inline void normalize_rows(std::vector<double>& u, std::vector<double>& norm, const double* x,
                           int64_t rows, int64_t H, int64_t ld) {
  u.resize(static_cast<size_t>(rows * H));
  norm.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * ld;
    double s = 0.0;
    for (int64_t h = 0; h < H; ++h) s += xr[h] * xr[h];
    const double nr = std::max(std::sqrt(s), kNormEps);
    norm[static_cast<size_t>(r)] = nr;
    for (int64_t h = 0; h < H; ++h) u[static_cast<size_t>(r * H + h)] = xr[h] / nr;
  }
}

// dx (rows, H; row stride ld) op= d(loss)/dx from du = d(loss)/du; op is = (accumulate false)
// or += (accumulate true) scaled by weight. A clamped norm (||x|| <= eps) is a constant.
inline void normalize_rows_backward(double* dx, int64_t ld, const double* du, const double* u,
                                    const double* norm, int64_t rows, int64_t H, double weight,
                                    bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    const double* ur = u + r * H;
    const double* gr = du + r * H;
    double* out = dx + r * ld;
    const double nr = norm[r];
    double dot = 0.0;
    if (nr > kNormEps) {
      for (int64_t h = 0; h < H; ++h) dot += ur[h] * gr[h];
    }
    for (int64_t h = 0; h < H; ++h) {
      const double g = weight * (gr[h] - ur[h] * dot) / nr;
      out[h] = accumulate ? out[h] + g : g;
    }
  }
}

}  // namespace sbert::objectives
