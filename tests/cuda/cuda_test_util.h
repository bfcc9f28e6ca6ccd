// Helpers of the [cuda] tests: skip without a device, random inputs, device copies, and the
// comparison rule of docs/kernels.md: |gpu - cpu| <= atol + rtol |cpu| element-wise, or bitwise
// where the GPU follows the CPU's operations exactly.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "cuda/runtime.h"

namespace sbert::test {

constexpr double kEpsF32 = 1.1920928955078125e-7;  // 2^-23

// True when a CUDA device is present; otherwise WARNs once per test and the test returns.
// Under the SIMT emulator there is always a device: a test that would skip fails instead.
inline bool have_gpu() {
  if (cuda::device_count() > 0) return true;
#ifdef SBERT_SIMT_EMU
  FAIL("the SIMT emulator build has no CUDA device: the [cuda] test would not run");
#endif
  WARN("no CUDA device (or a CPU-only build): [cuda] kernel test skipped");
  return false;
}

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

template <class T>
cuda::DeviceBuffer<T> on_device(const std::vector<T>& host) {
  return cuda::DeviceBuffer<T>(host);
}

// Worst element of |got - ref| / (atol + rtol |ref|); passes when <= 1.
inline void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                        double rtol, const char* what) {
  REQUIRE(got.size() == ref.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = atol + rtol * std::fabs(static_cast<double>(ref[i]));
    const double err = std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    const double r = std::isfinite(static_cast<double>(got[i])) ? err / tol : 1e30;
    if (r > worst) worst = r, at = i;
  }
  std::ostringstream msg;
  msg << what << ": worst element " << at << " of " << ref.size() << ": gpu "
      << (ref.empty() ? 0.0f : got[at]) << " cpu " << (ref.empty() ? 0.0f : ref[at])
      << ", error / tolerance = " << worst << " (atol " << atol << ", rtol " << rtol << ")";
  INFO(msg.str());
  CHECK(worst <= 1.0);
}

inline void check_bitwise(const std::vector<float>& got, const std::vector<float>& ref,
                          const char* what) {
  REQUIRE(got.size() == ref.size());
  size_t diff = 0, first = ref.size();
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
      if (diff++ == 0) first = i;
    }
  }
  std::ostringstream msg;
  msg << what << ": " << diff << " of " << ref.size() << " elements differ from the CPU's bits";
  if (diff) msg << " (first " << first << ": gpu " << got[first] << " cpu " << ref[first] << ")";
  INFO(msg.str());
  CHECK(diff == 0);
}

// cu_seqlens of the given lengths.
inline std::vector<int64_t> offsets_of(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> cu(1, 0);
  for (int64_t l : lengths) cu.push_back(cu.back() + l);
  return cu;
}

}  // namespace sbert::test
