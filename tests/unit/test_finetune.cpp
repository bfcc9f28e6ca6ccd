// sbert-finetune as a user runs it: a run killed at any moment (SIGKILL, even mid-checkpoint)
// resumes to the bitwise same model as an uninterrupted run; bad input never damages what
// the user already has.
#include <catch2/catch.hpp>

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "io/safetensors.h"
#include "sbert/convert.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::put;
using test::slurp;

bool same_bytes(const fs::path& a, const fs::path& b) { return slurp(a) == slurp(b); }

// A config for tiny-bert: 12 steps, GradCache with 2 chunks, dropout on, a checkpoint every
// 3 steps.
fs::path write_config(const fs::path& dir, const fs::path& data) {
  put(dir / "ft.yaml",
      "restore_from_path: " + test::fixture_dir("tiny-bert").string() + "\n" +
          "trainer:\n  max_steps: 12\n  threads: 2\n  val_check_interval: 100\n"
          "  num_sanity_val_steps: 0\n"
          "exp_manager:\n  checkpoint_callback_params:\n    every_n_train_steps: 3\n"
          "model:\n  global_batch_size: 8\n  micro_batch_size: 4\n  encoder_seq_length: 64\n"
          "  data:\n    data_train: " +
          data.string() +
          "\n    hard_negatives_to_train: 2\n    negative_selection: random\n"
          "  optim:\n    lr: 1e-3\n    sched:\n      warmup_steps: 2\n      min_lr: 1e-5\n");
  return dir / "ft.yaml";
}

test::AppResult finetune(const fs::path& config, const fs::path& log_dir,
                         const std::vector<std::string>& env = {},
                         const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"--config-path", config.parent_path().string(), "--config-name",
                                   config.filename().string(),
                                   "exp_manager.explicit_log_dir=" + log_dir.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return test::run_app("sbert-finetune", args, env);
}

// The files that must be bitwise equal between an interrupted and an uninterrupted run.
void require_same_final_state(const fs::path& a, const fs::path& b, int steps = 12) {
  char name[32];
  std::snprintf(name, sizeof name, "checkpoints/step-%08d", steps);
  const fs::path ca = a / name, cb = b / name;
  REQUIRE(fs::exists(ca / "trainer_state.json"));
  REQUIRE(fs::exists(cb / "trainer_state.json"));
  CHECK(same_bytes(ca / "model.safetensors", cb / "model.safetensors"));
  CHECK(same_bytes(ca / "optimizer.safetensors", cb / "optimizer.safetensors"));
  CHECK(slurp(ca / "trainer_state.json") == slurp(cb / "trainer_state.json"));
  // Every step logged exactly once, with the same loss.
  auto losses = [](const fs::path& dir) {
    std::vector<std::string> out;
    std::istringstream in(slurp(dir / "metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find("\"loss\": ");
      out.push_back(line.substr(0, line.find(',', at)));
    }
    return out;
  };
  const auto la = losses(a), lb = losses(b);
  CHECK(la.size() == static_cast<size_t>(steps));
  CHECK(la == lb);
}

}  // namespace

TEST_CASE("SIGKILL at a random step, then resume: bitwise the same model", "[finetune][resume]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path(), test::write_train_records(tmp.path()));
  const auto a = finetune(config, tmp / "a");
  INFO(a.stderr_text);
  REQUIRE(a.exit_code == 0);

  std::random_device rd;
  const int kill_at = 1 + static_cast<int>(rd() % 11);  // after step 1..11
  INFO("killed after step " << kill_at);
  const auto killed =
      finetune(config, tmp / "b", {"SBERT_FAULT_KILL_AFTER_STEP=" + std::to_string(kill_at)});
  REQUIRE(killed.exit_code == 128 + 9);
  const auto resumed = finetune(config, tmp / "b");
  INFO(resumed.stderr_text);
  REQUIRE(resumed.exit_code == 0);
  if (kill_at >= 3) CHECK_THAT(resumed.stderr_text, Contains("resuming from"));
  require_same_final_state(tmp / "a", tmp / "b");
}

TEST_CASE("Ctrl-C stops after the step with a checkpoint and exit 130 and the run resumes exactly",
          "[finetune][resume]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path(), test::write_train_records(tmp.path()));
  const auto a = finetune(config, tmp / "a");
  REQUIRE(a.exit_code == 0);
  // SIGINT is raised inside the process after step 5 (what a Ctrl-C during step 5 amounts to):
  // the app's handler asks the trainer to stop at the end of the step.
  const auto stopped = finetune(config, tmp / "b", {"SBERT_FAULT_SIGINT_AFTER_STEP=5"});
  INFO(stopped.stderr_text);
  REQUIRE(stopped.exit_code == 130);
  CHECK_THAT(stopped.stderr_text,
             Contains("sbert-finetune: interrupted after step 5; checkpoint ") &&
                 Contains("(run again to resume)"));
  CHECK(std::count(stopped.stderr_text.begin(), stopped.stderr_text.end(), '\n') >= 1);
  CHECK(fs::exists(tmp / "b" / "checkpoints" / "latest"));
  CHECK_THAT(test::slurp(tmp / "b" / "checkpoints" / "latest"), Contains("5"));
  const auto resumed = finetune(config, tmp / "b");
  INFO(resumed.stderr_text);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.stderr_text, Contains("resuming from"));
  require_same_final_state(tmp / "a", tmp / "b");
}

TEST_CASE("a run stopped by max_epochs resumes with a higher limit as if never stopped",
          "[finetune][resume]") {
  // 48 records in batches of 8; dedupe defers a few, so an epoch is 5 batches here. Checkpoints
  // every 4 steps: the first run's last checkpoint (step 5) is written after the loop has read
  // the next epoch's first batch, which a resume must still train on.
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path(), test::write_train_records(tmp.path()));
  auto with = [&](const std::string& epochs) {
    return std::vector<std::string>{"trainer.max_steps=100", "trainer.max_epochs=" + epochs,
                                    "exp_manager.checkpoint_callback_params.every_n_train_steps=4"};
  };
  auto last_step = [](const fs::path& run) {
    int last = 0;
    for (const auto& e : fs::directory_iterator(run / "checkpoints")) {
      const std::string n = e.path().filename().string();
      if (n.starts_with("step-")) last = std::max(last, std::stoi(n.substr(5)));
    }
    return last;
  };
  const auto first = finetune(config, tmp / "parts", {}, with("1"));
  INFO(first.stderr_text);
  REQUIRE(first.exit_code == 0);
  const int epoch_steps = last_step(tmp / "parts");
  REQUIRE(epoch_steps >= 5);
  REQUIRE(epoch_steps % 4 != 0);  // the case under test: the final save comes after the loop
  const auto second = finetune(config, tmp / "parts", {}, with("2"));
  INFO(second.stderr_text);
  REQUIRE(second.exit_code == 0);
  const auto whole = finetune(config, tmp / "whole", {}, with("2"));
  INFO(whole.stderr_text);
  REQUIRE(whole.exit_code == 0);
  const int steps = last_step(tmp / "whole");
  REQUIRE(steps > epoch_steps);
  CHECK(last_step(tmp / "parts") == steps);
  require_same_final_state(tmp / "whole", tmp / "parts", steps);
}

TEST_CASE("SIGKILL while a checkpoint is written keeps the previous one", "[finetune][resume]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path(), test::write_train_records(tmp.path()));
  const auto a = finetune(config, tmp / "a");
  REQUIRE(a.exit_code == 0);

  const auto killed = finetune(config, tmp / "c", {"SBERT_FAULT_KILL_IN_CHECKPOINT=6"});
  REQUIRE(killed.exit_code == 128 + 9);
  // The step-6 checkpoint never became visible; step 3 is whole and is what `latest` names.
  CHECK_FALSE(fs::exists(tmp / "c/checkpoints/step-00000006"));
  CHECK(slurp(tmp / "c/checkpoints/latest") == "step-00000003\n");
  CHECK(fs::exists(tmp / "c/checkpoints/step-00000003/trainer_state.json"));
  CHECK(
      SafetensorsFile::open(tmp / "c/checkpoints/step-00000003/model.safetensors").names().size() >
      10);

  const auto resumed = finetune(config, tmp / "c");
  INFO(resumed.stderr_text);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.stderr_text, Contains("step 3"));
  for (const auto& e : fs::directory_iterator(tmp / "c/checkpoints")) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
  require_same_final_state(tmp / "a", tmp / "c");
}

namespace {

// Damage done to a run's newest checkpoint (step-9) on disk.
void flip_bit(const fs::path& f, double where) {
  std::string bytes = slurp(f);
  REQUIRE(bytes.size() > 100);
  bytes[static_cast<size_t>(static_cast<double>(bytes.size() - 1) * where)] ^= 0x10;
  put(f, bytes);
}

void truncate_file(const fs::path& f, size_t keep) {
  std::string bytes = slurp(f);
  REQUIRE(bytes.size() > keep);
  bytes.resize(keep);
  put(f, bytes);
}

}  // namespace

TEST_CASE("damaged checkpoints: resume skips to the newest intact one and logs the losses of an "
          "uninterrupted run",
          "[finetune][resume][checkpoint-damage]") {
  test::TempDir tmp;
  const fs::path config = write_config(tmp.path(), test::write_train_records(tmp.path()));
  const std::vector<std::string> keep_all = {"exp_manager.checkpoint_callback_params.save_top_k=-1"};
  const auto a = finetune(config, tmp / "a", {}, keep_all);
  REQUIRE(a.exit_code == 0);
  // Checkpoints at steps 3, 6, 9 (all kept); killed after step 10.
  const auto killed = finetune(config, tmp / "b", {"SBERT_FAULT_KILL_AFTER_STEP=10"}, keep_all);
  REQUIRE(killed.exit_code == 128 + 9);
  const fs::path step9 = "checkpoints/step-00000009";
  REQUIRE(fs::exists(tmp / "b" / step9 / "checksums.xxh128"));

  struct Case {
    const char* name;
    std::function<void(const fs::path&)> damage;  // given the run's step-9 folder
    const char* file;                             // named in the one-line warning
  };
  const std::vector<Case> cases = {
      {"a bit flipped in the weights", [](const fs::path& d) { flip_bit(d / "model.safetensors", 0.6); },
       "model.safetensors: checksum mismatch"},
      {"a bit flipped in the optimizer state",
       [](const fs::path& d) { flip_bit(d / "optimizer.safetensors", 0.3); },
       "optimizer.safetensors: checksum mismatch"},
      {"a bit flipped in the safetensors header",
       [](const fs::path& d) { flip_bit(d / "model.safetensors", 0.0001); },
       "model.safetensors: checksum mismatch"},
      {"truncated weights", [](const fs::path& d) { truncate_file(d / "model.safetensors", 4096); },
       "model.safetensors: checksum mismatch"},
      {"an empty optimizer state", [](const fs::path& d) { put(d / "optimizer.safetensors", ""); },
       "optimizer.safetensors: checksum mismatch"},
      {"deleted weights", [](const fs::path& d) { fs::remove(d / "model.safetensors"); },
       "model.safetensors: missing"},
      {"a garbled trainer state",
       [](const fs::path& d) {
         std::string s = slurp(d / "trainer_state.json");
         s.replace(s.find("\"step\": 9"), 9, "\"step\": 7");
         put(d / "trainer_state.json", s);
       },
       "trainer_state.json: checksum mismatch"},
      {"a deleted tokenizer file", [](const fs::path& d) { fs::remove(d / "tokenizer.json"); },
       "tokenizer.json: missing"},
      {"a deleted checksum manifest", [](const fs::path& d) { fs::remove(d / "checksums.xxh128"); },
       "checksums.xxh128: missing"},
      {"`latest` naming no folder",
       [](const fs::path& d) {
         fs::remove_all(d);
         put(d.parent_path() / "latest", "step-00000099\n");
       },
       "checkpoints/latest names 'step-00000099'"},
  };
  SECTION("each kind of damage") {
    for (const Case& c : cases) {
      INFO(c.name);
      const fs::path run = tmp / "damaged";
      fs::remove_all(run);
      fs::copy(tmp / "b", run, fs::copy_options::recursive);
      c.damage(run / step9);
      const auto resumed = finetune(config, run, {}, keep_all);
      INFO(resumed.stderr_text);
      REQUIRE(resumed.exit_code == 0);
      CHECK_THAT(resumed.stderr_text, Contains(c.file));
      CHECK_THAT(resumed.stderr_text, Contains("resuming from"));
      CHECK_THAT(resumed.stderr_text, Contains("step-00000006"));
      require_same_final_state(tmp / "a", run);
    }
  }

  SECTION("no intact checkpoint: a one-line error naming the file, nothing trained") {
    const fs::path run = tmp / "all-damaged";
    fs::copy(tmp / "b", run, fs::copy_options::recursive);
    flip_bit(run / "checkpoints/step-00000003/model.safetensors", 0.5);
    fs::remove(run / "checkpoints/step-00000006/optimizer.safetensors");
    put(run / step9 / "trainer_state.json", "{garbled");
    const std::string before = slurp(run / "metrics.jsonl");
    const auto r = finetune(config, run, {}, keep_all);
    REQUIRE(r.exit_code != 0);
    CHECK_THAT(r.stderr_text, Contains("no intact checkpoint"));
    CHECK_THAT(r.stderr_text, Contains("step-00000003: model.safetensors: checksum mismatch"));
    CHECK_THAT(r.stderr_text, Contains("step-00000006: optimizer.safetensors: missing"));
    CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
    CHECK(slurp(run / "metrics.jsonl") == before);
  }

  SECTION("a checkpoint that fails to write (disk full) leaves the previous one loadable") {
    const fs::path run = tmp / "full";
    fs::copy(tmp / "b", run, fs::copy_options::recursive);
    fs::remove_all(run / step9);  // resume from step 6; the step-9 save must fail
    fs::remove(run / "checkpoints/latest");
    // ~500 KB per file: the weights (~330 KB) fit, the optimizer state (~670 KB) does not.
    std::string cmd = "ulimit -f 1000; trap '' XFSZ; exec " +
                      test::app_path("sbert-finetune").string() + " --config-path " +
                      config.parent_path().string() + " --config-name " +
                      config.filename().string() + " exp_manager.explicit_log_dir=" +
                      run.string() + " " + keep_all[0];
    const auto full = test::run_command({"sh", "-c", cmd});
    INFO(full.stderr_text);
    CHECK(full.exit_code == 1);
    CHECK_THAT(full.stderr_text, Contains("optimizer.safetensors"));
    CHECK(verify_checkpoint(run / "checkpoints/step-00000006").empty());
    CHECK_FALSE(fs::exists(run / step9));
    const auto resumed = finetune(config, run, {}, keep_all);
    INFO(resumed.stderr_text);
    REQUIRE(resumed.exit_code == 0);
    require_same_final_state(tmp / "a", run);
  }

  SECTION("sbert-convert --verify names the damage; restore_from_path refuses a damaged one") {
    const fs::path run = tmp / "verify";
    fs::copy(tmp / "b", run, fs::copy_options::recursive);
    const auto ok = test::run_app("sbert-convert", {"--verify", run.string()});
    INFO(ok.stdout_text << ok.stderr_text);
    CHECK(ok.exit_code == 0);
    CHECK(std::count(ok.stdout_text.begin(), ok.stdout_text.end(), '\n') == 3);
    flip_bit(run / "checkpoints/step-00000006/optimizer.safetensors", 0.5);
    const auto bad = test::run_app("sbert-convert", {"--verify", run.string()});
    INFO(bad.stdout_text << bad.stderr_text);
    CHECK(bad.exit_code != 0);
    CHECK_THAT(bad.stdout_text, Contains("step-00000006: DAMAGED: optimizer.safetensors: checksum mismatch"));
    CHECK_THAT(bad.stderr_text, Contains("1 of 3 checkpoints damaged"));

    flip_bit(run / step9 / "model.safetensors", 0.5);
    const auto r = finetune(config, tmp / "fresh", {},
                            {"restore_from_path=" + (run / step9).string()});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.stderr_text, Contains("restore_from_path"));
    CHECK_THAT(r.stderr_text, Contains("model.safetensors: checksum mismatch"));
  }
}

TEST_CASE("sbert-finetune: bad input is refused and nothing is damaged", "[finetune][errors]") {
  test::TempDir tmp;
  const fs::path data = test::write_train_records(tmp.path());
  const fs::path config = write_config(tmp.path(), data);

  SECTION("malformed training data names the file and record") {
    put(tmp / "bad.jsonl",
        slurp(data) + "{\"query\": \"q\", \"pos_doc\": null, \"neg_doc\": []}\n");
    const auto r = finetune(config, tmp / "run", {},
                            {"model.data.data_train=" + (tmp / "bad.jsonl").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text,
               Contains("bad.jsonl") && Contains("record 49") && Contains("pos_doc"));
  }
  SECTION("truncated training data") {
    const std::string s = slurp(data);
    put(tmp / "cut.jsonl", s.substr(0, s.size() - 40));
    const auto r = finetune(config, tmp / "run", {},
                            {"model.data.data_train=" + (tmp / "cut.jsonl").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("cut.jsonl") && Contains("record 48"));
  }
  SECTION("unknown config key") {
    const auto r = finetune(config, tmp / "run", {}, {"model.optim.learning_rate=1"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("unknown key 'model.optim.learning_rate'"));
  }
  SECTION("impossible value") {
    const auto r = finetune(config, tmp / "run", {}, {"model.micro_batch_size=16"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("model.micro_batch_size"));
  }
  SECTION("a checkpoint of another model shape leaves the run untouched") {
    const auto first = finetune(config, tmp / "run", {}, {"trainer.max_steps=3"});
    REQUIRE(first.exit_code == 0);
    const fs::path ckpt = tmp / "run/checkpoints/step-00000003";
    const std::string weights = slurp(ckpt / "model.safetensors");
    const std::string metrics = slurp(tmp / "run/metrics.jsonl");
    // A one-layer copy of tiny-bert.
    const fs::path small = tmp / "small";
    fs::copy(test::fixture_dir("tiny-bert"), small, fs::copy_options::recursive);
    std::string cfg = slurp(small / "config.json");
    const size_t at = cfg.find("\"num_hidden_layers\": 2");
    REQUIRE(at != std::string::npos);
    put(small / "config.json",
        cfg.substr(0, at) + "\"num_hidden_layers\": 1" + cfg.substr(at + 22));
    const auto r = finetune(config, tmp / "run", {}, {"restore_from_path=" + small.string()});
    INFO(r.stderr_text);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("step-00000003") && Contains("another model shape"));
    CHECK((slurp(ckpt / "model.safetensors") == weights));
    CHECK(slurp(tmp / "run/metrics.jsonl") == metrics);
  }
  SECTION("an existing run is not overwritten without resume_if_exists") {
    const auto first = finetune(config, tmp / "run", {}, {"trainer.max_steps=3"});
    REQUIRE(first.exit_code == 0);
    const auto r = finetune(config, tmp / "run", {}, {"exp_manager.resume_if_exists=false"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("already holds checkpoints"));
  }
}

namespace {

// Validation entries of metrics.jsonl: step -> the value of `key`.
std::map<int64_t, double> validation_values(const fs::path& log_dir, const std::string& key) {
  std::map<int64_t, double> out;
  std::istringstream in(slurp(log_dir / "metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"validation\": true") == std::string::npos) continue;
    const size_t at = line.find("\"" + key + "\": ");
    REQUIRE(at != std::string::npos);
    out[std::stoll(line.substr(9))] = std::stod(line.substr(at + key.size() + 4));
  }
  return out;
}

double json_number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  REQUIRE(at != std::string::npos);
  return std::stod(json.substr(at + key.size() + 4));
}

}  // namespace

TEST_CASE("sbert-finetune: retrieval validation on a BEIR folder picks the best checkpoints",
          "[finetune][beir-validation]") {
  test::TempDir tmp;
  const fs::path data = test::write_train_records(tmp.path());
  const fs::path config = write_config(tmp.path(), data);
  const fs::path all = test::write_beir_subset(tmp / "beir", 30);
  // The first 20 evaluated queries only: what validation_beir.max_queries=20 must evaluate.
  const fs::path first20 = test::write_beir_subset(tmp / "beir20", 20);
  const auto r =
      finetune(config, tmp / "run", {},
               {"model.data.validation_beir.path=" + all.string(),
                "model.data.validation_beir.max_queries=20", "model.data.add_prefix=false",
                "trainer.val_check_interval=4", "trainer.num_sanity_val_steps=1",
                "exp_manager.checkpoint_callback_params.every_n_train_steps=0",
                "exp_manager.checkpoint_callback_params.monitor=val_ndcg@10",
                "exp_manager.checkpoint_callback_params.mode=max",
                "exp_manager.checkpoint_callback_params.save_top_k=1",
                "exp_manager.checkpoint_callback_params.save_last=false", "model.optim.lr=5e-3"});
  INFO(r.stderr_text);
  REQUIRE(r.exit_code == 0);
  const auto ndcg = validation_values(tmp / "run", "val_ndcg@10");
  const auto recall100 = validation_values(tmp / "run", "val_recall@100");
  // The base model at step 0, then every 4 steps.
  REQUIRE(ndcg.size() == 4);
  CHECK(ndcg.begin()->first == 0);
  CHECK(ndcg.rbegin()->first == 12);
  for (const auto& [step, v] : ndcg) {
    CHECK(v >= 0);
    CHECK(v <= 1);
    CHECK(recall100.at(step) >= 0);
    CHECK(recall100.at(step) <= 1);
  }
  // Step 0 is the base model: sbert-eval on the same 20 queries gives the same numbers.
  const auto base = test::run_app(
      "sbert-eval", {"--model", test::fixture_dir("tiny-bert").string(), "--beir", first20.string(),
                     "--max-seq-length", "64", "--output", (tmp / "base.json").string()});
  REQUIRE(base.exit_code == 0);
  const std::string base_json = slurp(tmp / "base.json");
  CHECK(json_number(base_json, "queries") == 20);
  CHECK(ndcg.at(0) == Approx(json_number(base_json, "ndcg@10")).margin(1e-6));
  CHECK(recall100.at(0) == Approx(json_number(base_json, "recall@100")).margin(1e-6));
  // save_top_k=1 by val_ndcg@10 (max) keeps the newest and the best of steps 4, 8, 12.
  int64_t best_step = 4;
  for (const auto& [step, v] : ndcg)
    if (step > 0 && v > ndcg.at(best_step)) best_step = step;
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(best_step));
  const fs::path best = tmp / "run/checkpoints" / name;
  REQUIRE(fs::exists(best / "model.safetensors"));
  CHECK(fs::exists(tmp / "run/checkpoints/step-00000012"));
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(tmp / "run/checkpoints"))
    if (e.path().filename().string().rfind("step-", 0) == 0) ++kept;
  CHECK(kept == (best_step == 12 ? 1u : 2u));
  // checkpoints/best names it, next to checkpoints/latest.
  CHECK(slurp(tmp / "run/checkpoints/best") == std::string(name) + "\n");
  CHECK(slurp(tmp / "run/checkpoints/latest") == "step-00000012\n");
  CHECK(json_number(slurp(best / "trainer_state.json"), "monitor") ==
        Approx(ndcg.at(best_step)).margin(1e-12));
  // The saved checkpoint evaluates to what was logged for its step.
  const auto again = test::run_app(
      "sbert-eval", {"--model", best.string(), "--beir", first20.string(), "--max-seq-length", "64",
                     "--output", (tmp / "best.json").string()});
  REQUIRE(again.exit_code == 0);
  CHECK(ndcg.at(best_step) ==
        Approx(json_number(slurp(tmp / "best.json"), "ndcg@10")).margin(1e-6));
}

TEST_CASE("sbert-finetune: retrieval validation configuration errors name the key",
          "[finetune][beir-validation]") {
  test::TempDir tmp;
  const fs::path data = test::write_train_records(tmp.path());
  const fs::path config = write_config(tmp.path(), data);
  SECTION("monitoring a retrieval metric without a BEIR folder") {
    const auto r = finetune(config, tmp / "run", {},
                            {"exp_manager.checkpoint_callback_params.monitor=val_ndcg@10",
                             "exp_manager.checkpoint_callback_params.mode=max"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("validation_beir.path"));
  }
  SECTION("a retrieval metric with mode min") {
    const auto r = finetune(config, tmp / "run", {},
                            {"model.data.validation_beir.path=" + (tmp / "x").string(),
                             "exp_manager.checkpoint_callback_params.monitor=val_mrr@10"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("checkpoint_callback_params.mode"));
  }
  SECTION("a missing BEIR folder names the file before training starts") {
    const auto r = finetune(config, tmp / "run", {},
                            {"model.data.validation_beir.path=" + (tmp / "nowhere").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.stderr_text, Contains("nowhere"));
    CHECK_FALSE(fs::exists(tmp / "run/checkpoints"));
  }
}
