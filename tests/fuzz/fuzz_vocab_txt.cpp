// A tokenizer folder: vocab.txt (BERT WordPiece) with tokenizer_config.json and special_tokens_map.json,
// loaded by Tokenizer::load as Model::load does, then used (tokenizer_check.h).
// Input: the files in that order, separated by sbert::fuzz::kSeparator.
#include "fuzz_support.h"
#include "tokenizer_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sbert::fuzz::write_parts(data, size, {"t/vocab.txt", "t/tokenizer_config.json", "t/special_tokens_map.json"});
  sbert::fuzz::run([] {
    const sbert::Tokenizer t = sbert::Tokenizer::load(sbert::fuzz::scratch() / "t");
    sbert::fuzz::exercise(t);
  });
  return 0;
}
