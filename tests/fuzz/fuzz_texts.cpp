// Text lists for sbert-embed / sbert-tokenize: plain lines and JSONL with a "text" field
// (data/texts.h). Input: texts.txt, then texts.jsonl, separated by sbert::fuzz::kSeparator.
#include "data/texts.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sbert::fuzz::write_parts(data, size, {"texts.txt", "texts.jsonl"});
  sbert::fuzz::run([] { (void)sbert::read_text_lines(sbert::fuzz::scratch() / "texts.txt"); });
  sbert::fuzz::run([] {
    (void)sbert::read_jsonl_strings(sbert::fuzz::scratch() / "texts.jsonl", "text");
  });
  return 0;
}
