// A BEIR folder: corpus.jsonl, queries.jsonl and qrels/test.tsv (eval/beir.h), read as
// sbert-eval (strict) and sbert-mine (allow_unknown_ids) read it, then made an evaluation set.
// Input: the three files in that order, separated by sbert::fuzz::kSeparator.
#include "eval/beir.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sbert::fuzz::write_parts(data, size, {"b/corpus.jsonl", "b/queries.jsonl", "b/qrels/test.tsv"});
  const auto dir = sbert::fuzz::scratch() / "b";
  for (const bool allow_unknown : {false, true}) {
    sbert::eval::BeirOptions opt;
    opt.allow_unknown_ids = allow_unknown;
    sbert::fuzz::run([&] {
      sbert::eval::BeirSet set = sbert::eval::read_beir_set(dir, "test", opt);
      for (int64_t i = 0; i < static_cast<int64_t>(set.corpus.size()); ++i) (void)set.document(i);
      (void)sbert::eval::evaluation_set(std::move(set));
    });
  }
  return 0;
}
