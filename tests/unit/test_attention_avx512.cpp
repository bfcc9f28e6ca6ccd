// The AVX-512 products of the fp32 attention forward (cpu/attention_avx512.h) against the
// fp64 attention (the OpenBLAS path in double) on the same inputs: every head dim the kernels
// take (16 .. 128), lengths around their 16-key chunks, 64-key tiles, row tiles and the
// 256-row query blocks, with and without dropout. The fp32 attention's own error bound
// (about 1e-6 relative for these inputs) holds whichever path runs.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "core/rng.h"
#include "cpu/attention_avx512.h"
#include "cpu/kernels.h"

namespace sbert::test {

TEST_CASE("attention avx512: the forward equals fp64 within fp32's error on every shape",
          "[attention]") {
  if (!cpu::attention_avx512_usable(32)) {
    WARN("this CPU has no AVX-512: the kernels are not checked");
    return;
  }
  CHECK_FALSE(cpu::attention_avx512_usable(24));   // not a multiple of 16: OpenBLAS
  CHECK_FALSE(cpu::attention_avx512_usable(144));  // beyond 128
  const std::vector<int64_t> lengths = {1, 5, 16, 17, 63, 64, 65, 100, 257, 300};
  std::vector<int64_t> cu = {0};
  for (int64_t l : lengths) cu.push_back(cu.back() + l);
  const int64_t T = cu.back(), heads = 2;
  for (const int64_t D : {16, 32, 48, 64, 80, 96, 112, 128}) {
    for (const bool drop : {false, true}) {
      const int64_t H = heads * D;
      std::mt19937 gen(static_cast<uint32_t>(D));
      std::normal_distribution<float> n01(0.0f, 1.0f);
      std::vector<float> qkv(static_cast<size_t>(T * 3 * H));
      for (float& v : qkv) v = n01(gen);
      const std::vector<double> qkv64(qkv.begin(), qkv.end());
      const DropoutSpec spec{drop ? 0.2f : 0.0f, 99, 7, 3};
      std::vector<float> out(static_cast<size_t>(T * H)), lse(static_cast<size_t>(heads * T));
      std::vector<double> out64(out.size()), lse64(lse.size());
      cpu::attention_forward({.out = out.data(),
                              .lse = lse.data(),
                              .qkv = qkv.data(),
                              .cu_seqlens = cu.data(),
                              .nseq = static_cast<int64_t>(lengths.size()),
                              .heads = heads,
                              .head_dim = D,
                              .dropout = spec});
      cpu::attention_forward({.out = out64.data(),
                              .lse = lse64.data(),
                              .qkv = qkv64.data(),
                              .cu_seqlens = cu.data(),
                              .nseq = static_cast<int64_t>(lengths.size()),
                              .heads = heads,
                              .head_dim = D,
                              .dropout = spec});
      double worst = 0, worst_lse = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        const double err = std::fabs(static_cast<double>(out[i]) - out64[i]);
        worst = std::max(worst, err / (1e-6 + 1e-5 * std::fabs(out64[i])));
      }
      for (size_t i = 0; i < lse.size(); ++i) {
        const double err = std::fabs(static_cast<double>(lse[i]) - lse64[i]);
        worst_lse = std::max(worst_lse, err / (1e-6 * (1 + std::fabs(lse64[i]))));
      }
      INFO("head dim " << D << (drop ? ", dropout 0.2" : "") << ": worst error / bound: out "
                       << worst << ", lse " << worst_lse);
      CHECK(worst <= 1.0);
      CHECK(worst_lse <= 1.0);
    }
  }
}

}  // namespace sbert::test
