// TrainConfig: sbert-finetune's configuration = the public sbert::TrainOptions (sbert/train.h),
// read from YAML with NeMo's key names
// (examples/nlp/information_retrieval/conf/megatron_bert_embedding_config.yaml) plus dotted
// command-line overrides ("model.optim.lr=1e-5").
//
// Every key of the file is checked: a key we honour is parsed into its field's type and checked
// (train/config.cpp holds the one table of keys: name, type, help, check); a NeMo key that has
// no meaning here (model parallelism, apex, activation checkpointing, ...) is accepted and listed
// in `ignored_keys`; anything else is an error naming the key, where it was set, and the closest
// known key. `${a.b}` and `${.b}` interpolations are resolved for honoured keys, as OmegaConf does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sbert/train.h"

namespace sbert {

using TrainConfig = TrainOptions;

// TrainOptions::from_nemo_yaml / from_nemo_yaml_text under their older names.
TrainConfig load_train_config(const std::filesystem::path& config_dir,
                              const std::string& config_name,
                              const std::vector<std::string>& overrides = {});
TrainConfig parse_train_config(const std::string& yaml_text, const std::filesystem::path& source,
                               const std::vector<std::string>& overrides = {});

struct ScheduleConfig;
// The learning-rate schedule of a run of max_steps optimizer steps.
ScheduleConfig schedule_config(const TrainConfig& cfg, int64_t max_steps);

// cfg.to_yaml(): the resolved configuration, for the log directory.
std::string to_yaml(const TrainConfig& cfg);

}  // namespace sbert
