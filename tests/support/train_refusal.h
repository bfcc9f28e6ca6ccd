// Tests of what the Trainer refuses at construction (a precision, a backend, a model): the
// options of a small run and the error it gives.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/train.h"
#include "support/fixtures.h"

namespace sbert::test {

// A run from `model` (the tiny-bert fixture when empty), global and micro batch 2, logging
// under log_dir.
inline TrainOptions refusal_options(const std::filesystem::path& log_dir,
                                    const std::filesystem::path& model = {}) {
  TrainOptions o;
  o.restore_from_path = (model.empty() ? fixture_dir("tiny-bert") : model).string();
  o.exp_manager.explicit_log_dir = log_dir.string();
  o.model.global_batch_size = 2;
  o.model.micro_batch_size = 2;
  return o;
}

// The message of the sbert::Error that constructing a Trainer on two examples throws, or ""
// when it constructs.
inline std::string trainer_error(const TrainOptions& o) {
  const std::vector<TrainExample> ex = {{"a query", "a passage", {}},
                                        {"b query", "b passage", {}}};
  try {
    Trainer t(o, TrainData::from_examples(ex));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace sbert::test
