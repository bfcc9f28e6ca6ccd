#include "train/checkpoint.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "core/check.h"
#include "core/json_read.h"
#include "core/json_write.h"
#include "core/json.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/model_writer.h"
#include "io/safetensors.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {


std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

bool is_complete(const fs::path& dir) {
  return fs::is_regular_file(dir / "trainer_state.json") &&
         fs::is_regular_file(dir / "model.safetensors") &&
         fs::is_regular_file(dir / "optimizer.safetensors");
}

// step-* folders that are complete, oldest first.
std::vector<fs::path> complete_checkpoints(const fs::path& root) {
  std::vector<fs::path> out;
  if (!fs::is_directory(root)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("step-", 0) == 0 &&
        name.find(".tmp.") == std::string::npos && name.find(".old.") == std::string::npos &&
        is_complete(e.path())) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// step-* folders that are not temporaries, complete or not, newest first.
std::vector<fs::path> step_folders_newest_first(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("step-", 0) == 0 &&
        name.find(".tmp.") == std::string::npos && name.find(".old.") == std::string::npos) {
      out.push_back(e.path());
    }
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

}  // namespace

// A damaged trainer state has no monitored value: pruning and `best` skip it, never stop.
std::optional<TrainerState> try_read_state(const fs::path& dir) {
  try {
    const fs::path f = dir / "trainer_state.json";
    return trainer_state_from_json(read_file(f), f);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::vector<std::string> verify_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {cat(dir.string(), ": not a folder")};
  std::vector<std::string> problems;
  if (fs::exists(dir / kChecksumManifest, ec)) {
    problems = verify_checksum_manifest(dir);
  } else if (!fs::is_regular_file(dir / "trainer_state.json", ec)) {
    return {"trainer_state.json: missing"};
  } else {
    // No manifest: a version 1 checkpoint (before checksums) is taken as it is; a version 2
    // one has lost its manifest.
    const auto s = try_read_state(dir);
    if (!s) return {"trainer_state.json: garbled (not a libsbert trainer state)"};
    if (s->version >= 2) return {cat(kChecksumManifest, ": missing")};
  }
  for (const char* f : {"trainer_state.json", "model.safetensors", "optimizer.safetensors"}) {
    if (!fs::is_regular_file(dir / f, ec)) problems.push_back(cat(f, ": missing"));
  }
  if (problems.empty()) {
    try {
      const fs::path f = dir / "trainer_state.json";
      trainer_state_from_json(read_file(f), f);
    } catch (const Error& e) {
      problems.push_back(cat("trainer_state.json: ", e.what()));
    }
  }
  // The same file can be both missing from the manifest check and the list above.
  std::sort(problems.begin(), problems.end());
  problems.erase(std::unique(problems.begin(), problems.end()), problems.end());
  return problems;
}

std::vector<std::string> verify_if_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / kChecksumManifest, ec)) return verify_checksum_manifest(dir);
  const auto s = try_read_state(dir);
  if (s && s->version >= 2) return {cat(kChecksumManifest, ": missing")};
  return {};
}

ResumePoint find_resumable_checkpoint(const fs::path& root) {
  ResumePoint out;
  std::vector<fs::path> order = step_folders_newest_first(root);
  std::error_code ec;
  if (fs::exists(root / "latest", ec)) {
    const std::string name = read_checkpoint_name(root / "latest");
    const auto it = std::find(order.begin(), order.end(), root / name);
    if (name.empty() || it == order.end()) {
      out.notes.push_back(cat("checkpoints/latest names ",
                              name.empty() ? std::string("no checkpoint") : "'" + name + "'",
                              ", which is not a checkpoint folder; looking for the newest intact "
                              "one"));
    } else {
      std::rotate(order.begin(), it, it + 1);  // the one `latest` names first
    }
  }
  std::vector<std::string> damaged;  // "<folder>: <first problem>"
  for (const fs::path& dir : order) {
    const auto problems = verify_checkpoint(dir);
    if (problems.empty()) {
      out.dir = dir;
      break;
    }
    std::string why = problems.front();
    if (problems.size() > 1) why += cat(" (and ", problems.size() - 1, " more)");
    damaged.push_back(cat(dir.filename().string(), ": ", why));
  }
  if (!damaged.empty() && !out.dir) {
    std::string all;
    for (const auto& d : damaged) all += (all.empty() ? "" : "; ") + d;
    fail("[checkpoint] no intact checkpoint in ", root.string(), ": ", all,
         " (move the damaged folders away to start over)");
  }
  for (const auto& d : damaged) {
    out.notes.push_back(cat("checkpoint ", (root / d).string(), "; resuming from ",
                            out.dir->filename().string(), ", the newest intact one"));
  }
  return out;
}

std::string to_json(const TrainerState& s) {
  JsonWriter j(2);
  j.begin_object().member("format", "libsbert-trainer-state");
  // version 2: the folder has checksums.xxh128 (version 1 folders predate it)
  j.member("version", 2).member("step", s.step).member("epoch", s.epoch);
  j.member("consumed_samples", s.consumed_samples).member("seed", s.seed);
  j.member("layout_total", s.layout_total).member("monitor_name", s.monitor_name);
  j.key("monitor");
  if (s.monitor) {
    j.value(*s.monitor);  // shortest round-trip; older files hold %.17g, read back the same
  } else {
    j.null();
  }
  j.member("data_position", s.data_position);
  if (s.skipped_steps > 0) j.member("skipped_steps", s.skipped_steps);
  if (s.loss_scale) {  // 16-mixed; the fp32 scale is written shortest round-trip
    j.key("loss_scale").begin_object().member("scale", s.loss_scale->scale);
    j.member("growth_tracker", s.loss_scale->growth_tracker);
    j.member("hysteresis_tracker", s.loss_scale->hysteresis_tracker).end_object();
  }
  j.end_object();
  return j.take() + "\n";
}

TrainerState trainer_state_from_json(const std::string& json, const fs::path& file) {
  const JsonDocument doc = JsonDocument::from_string(json, file.string(), "checkpoint");
  const JsonReader r("checkpoint", file.string());
  const simdjson::dom::object o = r.object(doc.root(), "");
  auto field = [&](const char* name) { return r.required(o, name, name); };
  auto int_field = [&](const char* name) {
    return r.integer(field(name), name, 0, std::numeric_limits<int64_t>::max());
  };
  std::string_view format;
  const auto f = JsonReader::member(o, "format");
  SBERT_CHECK(f && !f->get(format) && format == "libsbert-trainer-state", r.where(),
              "not a libsbert trainer state");
  TrainerState s;
  s.version = r.integer(field("version"), "version", std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max());
  SBERT_CHECK(s.version == 1 || s.version == 2, r.where(), "version ", s.version,
              " is not one this libsbert reads (1 or 2)");
  s.step = int_field("step");
  s.epoch = int_field("epoch");
  s.consumed_samples = int_field("consumed_samples");
  const auto seed_e = field("seed");
  uint64_t seed = 0;
  if (seed_e.get(seed)) r.type_error("seed", seed_e, "an integer in [0, 2^64)");
  s.seed = seed;
  s.layout_total = int_field("layout_total");
  s.monitor_name = r.string(field("monitor_name"), "monitor_name");
  const auto mon = field("monitor");
  if (!mon.is_null()) s.monitor = r.number(mon, "monitor");
  s.data_position = r.string(field("data_position"), "data_position");
  if (JsonReader::member(o, "skipped_steps")) s.skipped_steps = int_field("skipped_steps");
  if (const auto ls = JsonReader::member(o, "loss_scale")) {
    const simdjson::dom::object lo = r.object(*ls, "loss_scale");
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    LossScaleState st;
    const double scale = r.number(r.required(lo, "scale", "loss_scale.scale"), "loss_scale.scale");
    st.scale = static_cast<float>(scale);
    SBERT_CHECK(std::isfinite(st.scale) && st.scale > 0 && static_cast<double>(st.scale) == scale,
                r.where(),
                "field 'loss_scale.scale' must be a positive fp32 value, got ", scale);
    st.growth_tracker = r.integer(r.required(lo, "growth_tracker", "loss_scale.growth_tracker"),
                                  "loss_scale.growth_tracker", 0, kMax);
    st.hysteresis_tracker =
        r.integer(r.required(lo, "hysteresis_tracker", "loss_scale.hysteresis_tracker"),
                  "loss_scale.hysteresis_tracker", std::numeric_limits<int64_t>::min(), kMax);
    s.loss_scale = st;
  }
  return s;
}

fs::path save_checkpoint(const fs::path& root, const CheckpointData& d) {
  SBERT_CHECK(d.model && d.weights && d.exp_avg && d.exp_avg_sq, "[checkpoint] incomplete data");
  fs::create_directories(root);
  const fs::path dir = root / step_dir_name(d.state.step);
  fs::path tmp = dir;
  tmp += cat(".tmp.", static_cast<long>(::getpid()));
  fs::remove_all(tmp);
  try {
    write_model_files(*d.model, d.weights, tmp);
    const int64_t total = d.model->layout.total;
    write_safetensors(tmp / "optimizer.safetensors",
                      {{"exp_avg", DType::F32, {total}, d.exp_avg},
                       {"exp_avg_sq", DType::F32, {total}, d.exp_avg_sq}},
                      {{"format", "libsbert-adamw"}, {"step", std::to_string(d.adam_step)}});
    write_file_atomic(tmp / "config.yaml", d.config_yaml);
    write_file_atomic(tmp / "trainer_state.json", to_json(d.state));
    write_checksum_manifest(tmp);  // last: over every file above
    if (d.before_commit) d.before_commit();
    commit_folder(tmp, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  write_file_atomic(root / "latest", dir.filename().string() + "\n");
  return dir;
}

std::string read_checkpoint_name(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  std::string name(256, '\0');  // a name is short: never read a large file whole
  in.read(name.data(), static_cast<std::streamsize>(name.size()));
  name.resize(static_cast<size_t>(in.gcount()));
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
  if (name.empty() || name.size() >= 255 || name == "." || name == ".." ||
      name.find_first_of("/\n\r", 0) != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return "";
  }
  return name;
}

std::optional<fs::path> find_latest_checkpoint(const fs::path& root) {
  if (fs::is_regular_file(root / "latest")) {
    const std::string name = read_checkpoint_name(root / "latest");
    if (!name.empty() && is_complete(root / name)) return root / name;
  }
  const auto all = complete_checkpoints(root);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<fs::path> find_best_checkpoint(const fs::path& root) {
  if (!fs::is_regular_file(root / "best")) return std::nullopt;
  const std::string name = read_checkpoint_name(root / "best");
  if (name.empty() || !is_complete(root / name)) return std::nullopt;
  return root / name;
}

std::optional<fs::path> update_best_checkpoint(const fs::path& root, const std::string& mode) {
  std::optional<fs::path> best;
  double best_value = 0;
  for (const fs::path& p : complete_checkpoints(root)) {  // oldest first
    const auto s = try_read_state(p);
    if (!s || !s->monitor || std::isnan(*s->monitor)) continue;
    if (!best || (mode == "max" ? *s->monitor > best_value : *s->monitor < best_value)) {
      best = p;
      best_value = *s->monitor;
    }
  }
  if (best) {
    write_file_atomic(root / "best", best->filename().string() + "\n");
  } else {
    std::error_code ec;
    fs::remove(root / "best", ec);
  }
  return best;
}

TrainerState load_checkpoint(const fs::path& dir, Model::Impl& model, LoadedOptimizer& opt) {
  const fs::path state_file = dir / "trainer_state.json";
  TrainerState s = trainer_state_from_json(read_file(state_file), state_file);
  SBERT_CHECK(s.layout_total == model.layout.total, "[checkpoint] ", state_file.string(),
              ": the checkpoint holds ", s.layout_total, " parameters but the model has ",
              model.layout.total, " (another model shape)");
  const SafetensorsFile weights = SafetensorsFile::open(dir / "model.safetensors");
  load_bert_weights(weights, model.layout, model.weights.data());
  const SafetensorsFile o = SafetensorsFile::open(dir / "optimizer.safetensors");
  opt.exp_avg = o.read_f32("exp_avg", {model.layout.total});
  opt.exp_avg_sq = o.read_f32("exp_avg_sq", {model.layout.total});
  const auto& meta = o.metadata();
  const auto it = meta.find("step");
  SBERT_CHECK(it != meta.end(), "[checkpoint] ", (dir / "optimizer.safetensors").string(),
              ": metadata 'step' is missing");
  try {
    opt.step = std::stoll(it->second);
  } catch (const std::exception&) {
    fail("[checkpoint] ", (dir / "optimizer.safetensors").string(), ": metadata 'step' is '",
         it->second, "', not an integer");
  }
  return s;
}

std::vector<fs::path> prune_checkpoints(const fs::path& root, int top_k, const std::string& mode) {
  std::vector<fs::path> removed;
  if (top_k < 0) return removed;
  const auto all = complete_checkpoints(root);
  if (all.empty()) return removed;
  const auto latest = find_latest_checkpoint(root);
  std::vector<std::pair<double, fs::path>> scored;
  for (const fs::path& p : all) {
    const auto s = try_read_state(p);
    if (s && s->monitor) scored.emplace_back(*s->monitor, p);
  }
  std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
    return mode == "max" ? a.first > b.first : a.first < b.first;
  });
  std::vector<fs::path> keep;
  if (latest) keep.push_back(*latest);
  for (size_t i = 0; i < scored.size() && i < static_cast<size_t>(top_k); ++i) {
    keep.push_back(scored[i].second);
  }
  for (const fs::path& p : all) {
    if (std::find(keep.begin(), keep.end(), p) == keep.end()) {
      fs::remove_all(p);
      removed.push_back(p);
    }
  }
  return removed;
}

void remove_stale_temporaries(const fs::path& root) {
  if (!fs::is_directory(root)) return;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos || name.find(".old.") != std::string::npos) {
      std::error_code ec;
      fs::remove_all(e.path(), ec);
    }
  }
}

}  // namespace sbert
