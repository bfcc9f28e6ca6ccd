// STS evaluation files (sentence1, sentence2, score; eval/sts.h).
#include "fuzz_support.h"
#include "sbert/eval.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sbert::fuzz::write_file("sts.tsv", {reinterpret_cast<const char*>(data), size});
  sbert::fuzz::run([&] { (void)sbert::eval::read_sts(path); });
  return 0;
}
