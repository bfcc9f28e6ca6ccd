// Checkpoints: everything a run needs to continue exactly, in an open format.
//
//   <log_dir>/checkpoints/step-00000100/
//     model.safetensors, config.json, tokenizer files, modules.json, 1_Pooling/ ...
//                          a complete Hugging Face / sentence-transformers model folder
//     optimizer.safetensors  AdamW moments: "exp_avg", "exp_avg_sq" (F32, the parameter block)
//     trainer_state.json     step, epoch, data position, monitored metric, seed, layout
//     config.yaml            the resolved configuration of the run
//   <log_dir>/checkpoints/latest   the name of the newest complete checkpoint
//   <log_dir>/checkpoints/best     the name of the checkpoint with the best monitored metric
//                                  (only when some checkpoint has one: validation ran)
//
// A checkpoint is written into "step-N.tmp.<pid>", every file fsynced, then renamed; then
// `latest` is replaced atomically. trainer_state.json is the last file written, so a folder
// without it is never taken as a checkpoint. A crash at any moment leaves the previous
// checkpoint and `latest` intact.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/model_impl.h"

namespace sbert {

struct TrainerState {
  int64_t step = 0;  // optimizer steps taken
  int64_t epoch = 0;
  int64_t consumed_samples = 0;  // queries trained on
  std::string data_position;     // DataPosition::to_json() of the training stream
  uint64_t seed = 0;
  std::optional<double> monitor;  // the checkpoint's monitored metric (val_loss), if any
  std::string monitor_name;
  int64_t layout_total = 0;  // parameter block size, checked on load
};

std::string to_json(const TrainerState& s);
TrainerState trainer_state_from_json(const std::string& json, const std::filesystem::path& file);

struct CheckpointData {
  const Model::Impl* model = nullptr;
  const float* weights = nullptr;  // (layout.total)
  const float* exp_avg = nullptr;  // (layout.total)
  const float* exp_avg_sq = nullptr;
  int64_t adam_step = 0;
  TrainerState state;
  std::string config_yaml;
  std::function<void()> before_commit;  // optional: runs before the folder is renamed (tests)
};

// Writes <root>/step-<step> as described above and points <root>/latest at it.
std::filesystem::path save_checkpoint(const std::filesystem::path& root, const CheckpointData& d);

// The newest complete checkpoint under root (via `latest`, else the highest complete step-*),
// or nothing. Leftover temporary folders are ignored.
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& root);

// The checkpoint root/best names, when it names a complete one.
std::optional<std::filesystem::path> find_best_checkpoint(const std::filesystem::path& root);

// Points root/best (atomically) at the complete checkpoint with the best monitored metric
// (mode "min" or "max"; the earliest of equal ones, as Lightning keeps the first best), or
// removes root/best when no checkpoint has a value. Returns the checkpoint named.
std::optional<std::filesystem::path> update_best_checkpoint(const std::filesystem::path& root,
                                                            const std::string& mode);

// The one line of root/latest or root/best: a checkpoint folder's name, trimmed; "" when the
// file does not hold one (empty, several lines, a path, too long).
std::string read_checkpoint_name(const std::filesystem::path& file);

struct LoadedOptimizer {
  std::vector<float> exp_avg, exp_avg_sq;
  int64_t step = 0;
};

// Loads a checkpoint's weights into the model's block (shapes checked against the model: a
// checkpoint of another model shape is refused naming the file and tensor), its optimizer state
// and trainer state.
TrainerState load_checkpoint(const std::filesystem::path& dir, Model::Impl& model,
                             LoadedOptimizer& optimizer);

// Keeps the newest checkpoint and the best `top_k` by monitored metric (mode "min" or "max";
// top_k -1 keeps all); deletes the rest. Returns the folders removed.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& root, int top_k,
                                                     const std::string& mode);

// Removes "*.tmp.*" folders left by a crash mid-save.
void remove_stale_temporaries(const std::filesystem::path& root);

}  // namespace sbert
