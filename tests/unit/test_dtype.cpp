#include <catch2/catch.hpp>

#include "core/dtype.h"

using namespace sbert;

TEST_CASE("bf16 conversion rounds to nearest even and keeps NaN", "[dtype]") {
  CHECK(bf16_to_f32(f32_to_bf16(1.0f)) == 1.0f);
  CHECK(bf16_to_f32(f32_to_bf16(-2.5f)) == -2.5f);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to the even mantissa (1.0).
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)) == 1.0f);
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)) == 1.0f + 4.0f / 256);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST_CASE("f16 conversion round-trips representable values", "[dtype]") {
  for (float v : {0.0f, 1.0f, -1.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    CHECK(f16_to_f32(f32_to_f16(v)) == v);
  }
  CHECK(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
}

TEST_CASE("dtype names parse back", "[dtype]") {
  DType t;
  REQUIRE(parse_dtype("BF16", &t));
  CHECK(t == DType::BF16);
  CHECK(dtype_size(t) == 2);
  CHECK_FALSE(parse_dtype("F8_E4M3", &t));
}
