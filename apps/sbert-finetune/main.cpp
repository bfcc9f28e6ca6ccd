// sbert-finetune: contrastive fine-tuning from a NeMo-style YAML config.
//   sbert-finetune --config-path conf --config-name sbert_finetune model.optim.lr=1e-5 ...
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli.h"
#include "train/config.h"
#include "train/trainer.h"

namespace {

// Fault injection for the crash-and-resume tests: SIGKILL this process after a given step, or
// while a checkpoint's files are written but not yet renamed into place.
int64_t env_step(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-finetune", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-finetune",
        "Fine-tunes a sentence embedding model contrastively (NeMo's InfoNCE with hard\n"
        "negatives) from a YAML config with NeMo's key names. Positional arguments are\n"
        "dotted overrides: model.optim.lr=1e-5 trainer.max_steps=100",
        {{"--config-path", "folder holding the config", true, true, ""},
         {"--config-name", "config file name (with or without .yaml)", true, true, ""}},
        /*allow_positional=*/true);
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    const sbert::TrainConfig cfg = sbert::load_train_config(
        args.get("--config-path"), args.get("--config-name"), args.positional());
    sbert::TrainerHooks hooks;
    const int64_t kill_after = env_step("SBERT_FAULT_KILL_AFTER_STEP");
    const int64_t kill_in_ckpt = env_step("SBERT_FAULT_KILL_IN_CHECKPOINT");
    if (kill_after >= 0) {
      hooks.after_step = [kill_after](int64_t step, double /*loss*/) {
        if (step == kill_after) std::raise(SIGKILL);
      };
    }
    if (kill_in_ckpt >= 0) {
      hooks.before_checkpoint_commit = [kill_in_ckpt](int64_t step) {
        if (step == kill_in_ckpt) std::raise(SIGKILL);
      };
    }
    const sbert::TrainResult r = sbert::train(cfg, hooks);
    std::fprintf(stderr, "sbert-finetune: %lld steps done (last loss %.6f); logs in %s\n",
                 static_cast<long long>(r.steps), r.last_loss, r.log_dir.c_str());
    std::fprintf(stderr, "sbert-finetune: training curves in %s\n", r.plot.c_str());
    if (!r.last_checkpoint.empty()) {
      std::fprintf(stderr, "sbert-finetune: model and training state in %s\n",
                   r.last_checkpoint.c_str());
    }
    return 0;
  });
}
