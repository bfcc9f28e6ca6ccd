// Checkpoints: everything a run needs to continue exactly, in an open format.
//
//   <log_dir>/checkpoints/step-00000100/
//     model.safetensors, config.json, tokenizer files, modules.json, 1_Pooling/ ...
//                          a complete Hugging Face / sentence-transformers model folder
//     optimizer.safetensors  AdamW moments: "exp_avg", "exp_avg_sq" (F32, the parameter block)
//     trainer_state.json     step, epoch, data position, monitored metric, seed, layout
//     config.yaml            the resolved configuration of the run
//     checksums.xxh128       XXH3-128 of every file above (io/checksum.h; `xxh128sum -c` reads it)
//   <log_dir>/checkpoints/latest   the name of the newest complete checkpoint
//   <log_dir>/checkpoints/best     the name of the checkpoint with the best monitored metric
//                                  (only when some checkpoint has one: validation ran)
//
// A checkpoint is written into "step-N.tmp.<pid>", every file fsynced, then renamed; then
// `latest` is replaced atomically. checksums.xxh128 is the last file written. A crash at any
// moment leaves the previous checkpoint and `latest` intact; damage found later (a flipped
// bit, a truncated, emptied or deleted file, a garbled trainer state) is caught by the
// checksums before anything is loaded, and resuming falls back to the newest intact checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/model_impl.h"
#include "sbert/convert.h"
#include "train/loss_scale.h"

namespace sbert {

struct TrainerState {
  int64_t version = 2;  // of the file: 1 before checkpoints had checksums.xxh128
  int64_t step = 0;     // optimizer steps taken
  int64_t epoch = 0;
  int64_t consumed_samples = 0;  // queries trained on
  std::string data_position;     // DataPosition::to_json() of the training stream
  uint64_t seed = 0;
  std::optional<double> monitor;  // the checkpoint's monitored metric (val_loss), if any
  std::string monitor_name;
  int64_t layout_total = 0;  // parameter block size, checked on load
  // 16-mixed (train/loss_scale.h): steps skipped for a non-finite gradient (the LR schedule
  // is at step - skipped_steps), and the loss scaler's state; written only when used.
  int64_t skipped_steps = 0;
  std::optional<LossScaleState> loss_scale;
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

// verify_checkpoint(dir) is public (sbert/convert.h, sbert-convert --verify): what is wrong
// with a checkpoint folder, one line per problem naming the file (empty: intact).

// A model folder about to be loaded as weights (restore_from_path): when it is a checkpoint
// (it has checksums.xxh128, or a version 2 trainer state), the manifest's problems; else none.
std::vector<std::string> verify_if_checkpoint(const std::filesystem::path& dir);

// The trainer state of dir, or nothing when it is missing or garbled.
std::optional<TrainerState> try_read_state(const std::filesystem::path& dir);

struct ResumePoint {
  std::optional<std::filesystem::path> dir;  // the checkpoint to resume from (verified)
  std::vector<std::string> notes;  // one line per damaged checkpoint skipped, or a bad `latest`
};

// The checkpoint to resume from: the one root/latest names, else the newest step-* folder,
// verified; a damaged one is skipped for the next newest (one note each). Nothing when root
// has no step-* folder. Throws "[checkpoint] no intact checkpoint in <root>: step-..: <file>:
// <problem>; ..." when there are checkpoints and none is intact: a run never trains from
// damaged state.
ResumePoint find_resumable_checkpoint(const std::filesystem::path& root);

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
// and trainer state. Verify it first (find_resumable_checkpoint or verify_checkpoint): this
// checks shapes and formats, not content.
TrainerState load_checkpoint(const std::filesystem::path& dir, Model::Impl& model,
                             LoadedOptimizer& optimizer);

// Keeps the newest checkpoint and the best `top_k` by monitored metric (mode "min" or "max";
// top_k -1 keeps all); deletes the rest. Returns the folders removed.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& root, int top_k,
                                                     const std::string& mode);

// Removes "*.tmp.*" folders left by a crash mid-save.
void remove_stale_temporaries(const std::filesystem::path& root);

}  // namespace sbert
