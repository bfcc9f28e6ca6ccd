// A model folder's configuration: config.json and the sentence-transformers files (modules.json,
// sentence_bert_config.json, 1_Pooling/config.json, config_sentence_transformers.json) and a
// libsbert checkpoint's libsbert.json, read as Model::load and sbert-convert read them.
// Input: the six files, in that order, separated by sbert::fuzz::kSeparator.
#include "fuzz_support.h"
#include "io/convert.h"
#include "sbert/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sbert::fuzz::write_parts(data, size,
                           {"m/config.json", "m/modules.json", "m/sentence_bert_config.json",
                            "m/1_Pooling/config.json", "m/config_sentence_transformers.json",
                            "m/libsbert.json"});
  const auto dir = sbert::fuzz::scratch() / "m";
  sbert::fuzz::run([&] {
    const sbert::ModelConfig c = sbert::load_model_config(dir);
    if (sbert::is_libsbert_checkpoint(dir)) {
      const sbert::CheckpointInfo info = sbert::read_checkpoint_info(dir, false);
      sbert::check_checkpoint_config(dir, info, c);
    }
  });
  sbert::fuzz::run([&] { (void)sbert::read_st_config(dir); });
  return 0;
}
