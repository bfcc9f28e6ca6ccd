// .npy (format 1.0) float32 matrices (io/npy.h).
#include "fuzz_support.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sbert::fuzz::write_file("x.npy", {reinterpret_cast<const char*>(data), size});
  sbert::fuzz::run([&] { (void)sbert::read_npy_f32(path); });
  return 0;
}
