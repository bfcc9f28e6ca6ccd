// bf16x3 products on AMX tiles (cpu/gemm_bf16x3.h, MatmulPrecision::High): the kernel equals
// the double-precision sum of the same three bf16 products up to fp32 summation; its error
// against the exact fp32 product is within the split's bound; the thread count does not change
// a bit; MiniLM's embeddings stay within 1e-5 of fp32; the API and apps take the option. The
// kernel checks are skipped (with a warning) where the CPU or OS has no AMX bf16.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/fast_math.h"
#include "cpu/gemm_bf16x3.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;
using test::random_floats;

namespace {

struct Shape {
  int64_t rows, k, n;
};

// Shapes that reach every edge: k not a multiple of the tile depth (32) or of the chunk (384),
// n not a multiple of the 32-column tile, rows not a multiple of 32 nor of the row block.
constexpr Shape kShapes[] = {{1, 1, 1},      {5, 37, 3},     {31, 64, 33},
                             {33, 100, 64},  {70, 384, 96},  {300, 385, 40},
                             {97, 1000, 70}, {64, 1536, 32}, {600, 384, 1152}};

bool skip_without_amx() {
  if (cpu::bf16x3_usable()) return false;
  WARN("this CPU (or OS) has no AMX bf16: the bf16x3 kernel is not checked");
  return true;
}

}  // namespace

TEST_CASE("bf16x3: the AMX kernel is the reference's products summed in fp32", "[bf16x3]") {
  if (skip_without_amx()) return;
  for (const Shape& s : kShapes) {
    for (const bool gelu : {false, true}) {
      const auto x = random_floats(static_cast<size_t>(s.rows * s.k), 1, 4.0f);
      const auto w = random_floats(static_cast<size_t>(s.n * s.k), 2, 0.5f);
      const auto b = random_floats(static_cast<size_t>(s.n), 3, 1.0f);
      const cpu::SplitWeight sw = cpu::split_weight(w.data(), s.n, s.k);
      std::vector<float> out(static_cast<size_t>(s.rows * s.n), -1.0f), ref(out.size());
      cpu::SplitScratch scratch;
      cpu::bf16x3_linear_forward(out.data(), x.data(), sw, b.data(), s.rows, scratch, gelu);
      cpu::bf16x3_linear_reference(ref.data(), x.data(), w.data(), b.data(), s.rows, s.k, s.n,
                                   gelu);
      // The yardstick: how far a plain fp32 dot product (float products summed in order)
      // strays from the exact one on these operands. The kernel sums the reference's terms in
      // fp32 too, so it may stray as far, not as far as a missing product term (~2^-9 of the
      // products, hundreds of times more).
      double e32 = 0, top = 0;
      for (int64_t r = 0; r < s.rows; ++r) {
        for (int64_t j = 0; j < s.n; ++j) {
          float f = 0;
          double d = 0;
          for (int64_t t = 0; t < s.k; ++t) {
            const float xv = x[static_cast<size_t>(r * s.k + t)];
            const float wv = w[static_cast<size_t>(j * s.k + t)];
            f += xv * wv;
            d += static_cast<double>(xv) * static_cast<double>(wv);
          }
          e32 = std::max(e32, std::abs(static_cast<double>(f) - d));
          top = std::max(top, std::abs(static_cast<double>(ref[static_cast<size_t>(r * s.n + j)])));
        }
      }
      const double bound = 4 * e32 + 1e-6 * top;
      double worst = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        worst =
            std::max(worst, std::abs(static_cast<double>(out[i]) - static_cast<double>(ref[i])));
      }
      INFO("rows " << s.rows << " k " << s.k << " n " << s.n << " gelu " << gelu << ": |diff| "
                   << worst << ", bound " << bound);
      CHECK(worst <= bound);
    }
  }
}

TEST_CASE("bf16x3: within the split's bound of the exact product, far inside bf16's", "[bf16x3]") {
  if (skip_without_amx()) return;
  const int64_t rows = 64, k = 768, n = 96;
  const auto x = random_floats(static_cast<size_t>(rows * k), 4, 2.0f);
  const auto w = random_floats(static_cast<size_t>(n * k), 5, 0.2f);
  const cpu::SplitWeight sw = cpu::split_weight(w.data(), n, k);
  std::vector<float> out(static_cast<size_t>(rows * n));
  cpu::SplitScratch scratch;
  cpu::bf16x3_linear_forward(out.data(), x.data(), sw, nullptr, rows, scratch);
  double worst = 0;  // |out - x.w| / sum_t |x_t w_t|
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, mag = 0;
      for (int64_t t = 0; t < k; ++t) {
        const double p = static_cast<double>(x[static_cast<size_t>(r * k + t)]) *
                         static_cast<double>(w[static_cast<size_t>(j * k + t)]);
        exact += p;
        mag += std::abs(p);
      }
      worst = std::max(
          worst, std::abs(static_cast<double>(out[static_cast<size_t>(r * n + j)]) - exact) / mag);
    }
  }
  INFO("largest error relative to sum |x w|: " << worst);
  // Dropped terms: at most 3 * 2^-18 of each product (cpu/gemm_bf16x3.h), plus fp32 summation
  // (typically ~sqrt(3k) units of 2^-24; at worst 3k).
  CHECK(worst <= 3 * std::ldexp(1.0, -18) +
                     16 * std::sqrt(3.0 * static_cast<double>(k)) * std::ldexp(1.0, -24));
}

TEST_CASE("bf16x3: the thread count does not change a bit", "[bf16x3]") {
  if (skip_without_amx()) return;
  const int64_t rows = 777, k = 1000, n = 200;
  const auto x = random_floats(static_cast<size_t>(rows * k), 6, 1.0f);
  const auto w = random_floats(static_cast<size_t>(n * k), 7, 1.0f);
  const auto b = random_floats(static_cast<size_t>(n), 8, 1.0f);
  const cpu::SplitWeight sw = cpu::split_weight(w.data(), n, k);
  std::vector<float> one(static_cast<size_t>(rows * n)), two(one.size()), three(one.size());
  cpu::SplitScratch scratch;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  cpu::bf16x3_linear_forward(one.data(), x.data(), sw, b.data(), rows, scratch, true);
  omp_set_num_threads(2);
  cpu::bf16x3_linear_forward(two.data(), x.data(), sw, b.data(), rows, scratch, true);
  omp_set_num_threads(3);
  cpu::bf16x3_linear_forward(three.data(), x.data(), sw, b.data(), rows, scratch, true);
  omp_set_num_threads(saved);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
}

TEST_CASE("matmul precision: names, and what a CPU without AMX runs", "[bf16x3]") {
  CHECK(parse_matmul_precision("highest") == MatmulPrecision::Highest);
  CHECK(parse_matmul_precision("high") == MatmulPrecision::High);
  CHECK(std::string(to_string(MatmulPrecision::High)) == "high");
  CHECK(std::string(to_string(MatmulPrecision::Highest)) == "highest");
  CHECK_THAT(test::error_of([] { (void)parse_matmul_precision("medium"); }),
             Catch::Contains("unknown precision 'medium' (expected highest or high)"));
  CHECK(matmul_precision_available(MatmulPrecision::Highest));
  CHECK(matmul_precision_available(MatmulPrecision::High) == cpu::bf16x3_usable());
}

TEST_CASE("bf16x3 encoder: MiniLM embeddings within 1e-5 of fp32", "[bf16x3][minilm]") {
  const auto dir = test::minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found: skipping");
    return;
  }
  const auto texts = test::fixture_texts();
  const Model model = Model::load(*dir);
  EmbedOptions eo;
  eo.threads = 2;
  const Embeddings fp32 = model.embed(texts, eo);
  eo.matmul_precision = MatmulPrecision::High;
  const Embeddings high = model.embed(texts, eo);
  REQUIRE(high.rows == fp32.rows);
  double worst = 0;
  for (size_t i = 0; i < fp32.data.size(); ++i) {
    worst = std::max(
        worst, std::abs(static_cast<double>(high.data[i]) - static_cast<double>(fp32.data[i])));
  }
  INFO("max |high - highest| over " << fp32.rows << " texts: " << worst);
  // Measured 2.2e-6 on 500 SciFact abstracts (docs/quantization.md).
  CHECK(worst <= 1e-5);
  if (cpu::bf16x3_usable()) {
    CHECK(worst > 0);  // the AMX path really ran
    // Another thread count and a batch size of 1: the same bits.
    eo.threads = 1;
    eo.batch_size = 1;
    CHECK(model.embed(texts, eo).data == high.data);
  } else {
    CHECK(high.data == fp32.data);  // High runs as Highest
  }
  // int8 takes precedence; CUDA runs High as Highest (this build may have no CUDA: not tried).
  eo.quantize = Quantize::Int8;
  eo.threads = 2;
  EmbedOptions int8_only;
  int8_only.threads = 2;
  int8_only.quantize = Quantize::Int8;
  CHECK(model.embed(texts, eo).data == model.embed(texts, int8_only).data);
}

TEST_CASE("bf16x3 apps: --matmul-precision high embeds, a bad value is a usage error",
          "[bf16x3][app]") {
  const auto dir = test::model_dir("tiny-bert");
  REQUIRE(dir);
  test::TempDir tmp;
  test::put(tmp / "in.txt", "A man is eating food.\nA man is riding a horse.\n");
  const auto ok = test::run_app(
      "sbert-embed", {"--model", dir->string(), "--input", (tmp / "in.txt").string(), "--output",
                      (tmp / "e.npy").string(), "--matmul-precision", "high", "--threads", "2"});
  INFO(ok.stderr_text);
  CHECK(ok.exit_code == 0);
  CHECK(std::filesystem::exists(tmp / "e.npy"));
  const auto bad = test::run_app(
      "sbert-embed", {"--model", dir->string(), "--input", (tmp / "in.txt").string(), "--output",
                      (tmp / "f.npy").string(), "--matmul-precision", "medium"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.stderr_text,
             Catch::Contains("--matmul-precision must be highest or high, got 'medium'"));
  CHECK_FALSE(std::filesystem::exists(tmp / "f.npy"));
  for (const char* app : {"sbert-eval", "sbert-mine"}) {
    const auto help = test::run_app(app, {"--help"});
    CHECK_THAT(help.stdout_text, Catch::Contains("--matmul-precision"));
  }
}
