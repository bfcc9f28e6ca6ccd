// NeMo keys that libsbert accepts from a NeMo config without effect, each with the reason a
// person reads at start-up (sbert-finetune's summary; TrainOptions::ignored_key_reason).
#pragma once

#include <string>

namespace sbert {

bool is_ignored_nemo_key(const std::string& key);
// Empty when key is not an ignored NeMo key.
std::string ignored_nemo_key_reason(const std::string& key);

}  // namespace sbert
