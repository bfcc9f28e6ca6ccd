// Uses a tokenizer that loaded from fuzzed files as the embedder and the decoder do.
#pragma once
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "sbert/tokenizer.h"

namespace sbert::fuzz {

inline void exercise(const Tokenizer& t) {
  static const char* const kTexts[] = {
      "", "Hello, world! It's 3:30pm.", "  unaffable   ##ing [CLS] <s> </s> <mask> ",
      "Ça va? naïve café Ελληνικά 日本語のテキスト 🙂👍🏽", "a\tb\r\nc\u00a0d\u200b\u3000e",
      "x"};
  for (const char* text : kTexts) {
    run([&] {
      const std::vector<int32_t> ids = t.encode(text, 0);
      (void)t.encode(text, 3);
      (void)t.tokenize(text);
      (void)t.normalize(text);
      (void)t.decode(ids);
    });
  }
  run([&] { (void)t.encode_batch({kTexts[1], kTexts[3]}, 16, 1); });
  std::vector<int32_t> all;
  for (int32_t id = 0; id < t.vocab_size() && id < 64; ++id) {
    all.push_back(id);
    run([&] { (void)t.id_to_token(id); });
  }
  run([&] { (void)t.decode(all); });
  run([&] { (void)t.decode({t.vocab_size()}); });
}

}  // namespace sbert::fuzz
