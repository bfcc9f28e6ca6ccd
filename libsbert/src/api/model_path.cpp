// resolve_model_path: what a --model / restore_from_path argument names. One place, so that
// every tool and the trainer accept the same forms (sbert/model.h, docs/finetune.md).
#include <cstdio>

#include "core/check.h"
#include "io/atomic_file.h"
#include "sbert/model.h"
#include "train/checkpoint.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

bool is_model_folder(const fs::path& dir) {
  // pytorch_model.bin alone: Model::load says how to convert it.
  return fs::is_regular_file(dir / "model.safetensors") ||
         fs::is_regular_file(dir / "pytorch_model.bin");
}

// "val_ndcg@10 = 0.6123" from its trainer_state.json; "" when it has no value or is unreadable.
std::string monitored(const fs::path& checkpoint) {
  try {
    const fs::path f = checkpoint / "trainer_state.json";
    const TrainerState s = trainer_state_from_json(read_file(f), f);
    if (!s.monitor) return "";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", *s.monitor);
    return cat(s.monitor_name, " = ", buf);
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

fs::path resolve_model_path(const fs::path& path, std::string* note) {
  if (note) note->clear();
  const std::string p = path.string();
  SBERT_CHECK(!path.empty(), "[model] no model folder given");
  SBERT_CHECK(fs::exists(path), "[model] ", p, ": no such file or folder");

  if (!fs::is_directory(path)) {  // checkpoints/latest or checkpoints/best
    const std::string name = read_checkpoint_name(path);
    SBERT_CHECK(!name.empty(), "[model] ", p,
                ": a file, not a model folder (nor a file naming a checkpoint beside it, as "
                "checkpoints/latest and checkpoints/best do)");
    const fs::path dir = path.parent_path() / name;
    SBERT_CHECK(is_model_folder(dir), "[model] ", p, ": names checkpoint '", name, "' but ",
                dir.string(), " is not there or holds no model.safetensors");
    const std::string value = monitored(dir);
    if (note) *note = cat(p, " -> ", dir.string(), value.empty() ? "" : " (" + value + ")");
    return dir;
  }
  if (is_model_folder(path)) return path;

  // A run's log folder, or its checkpoints/ folder.
  const fs::path root = fs::is_directory(path / "checkpoints") ? path / "checkpoints" : path;
  if (const auto best = find_best_checkpoint(root)) {
    if (note) *note = cat(p, ": its best checkpoint by ", monitored(*best), ": ", best->string());
    return *best;
  }
  if (const auto latest = find_latest_checkpoint(root)) {
    if (note) *note = cat(p, ": its latest checkpoint (no best: no monitored value): ",
                          latest->string());
    return *latest;
  }
  SBERT_CHECK(root == path, "[model] ", p, ": ", root.string(),
              " holds no complete checkpoint (and ", p, " no model.safetensors)");
  fail("[model] ", p,
       ": not a model folder (no model.safetensors) nor a run's log folder (no checkpoints/ "
       "folder)");
}

}  // namespace sbert
