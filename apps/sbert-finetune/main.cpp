// sbert-finetune: contrastive fine-tuning from a NeMo-style YAML config.
//   sbert-finetune --config-path conf --config-name sbert_finetune model.optim.lr=1e-5 ...
//   mpirun -np 2 sbert-finetune ... trainer.devices=2      (docs/distributed.md)
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cli.h"
#include "core/check.h"
#include "dist/communicator.h"
#include "train/config.h"
#include "train/trainer.h"

namespace {

// Fault injection for the crash-and-resume tests: SIGKILL this process after a given step, or
// while a checkpoint's files are written but not yet renamed into place; in a multi-process
// job also throw, or stall (to trip the other ranks' collective timeout), after a step. With
// SBERT_FAULT_RANK=r only rank r misbehaves.
int64_t env_step(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : -1;
}

sbert::TrainerHooks fault_hooks(int rank) {
  sbert::TrainerHooks hooks;
  const int64_t only = env_step("SBERT_FAULT_RANK");
  if (only >= 0 && only != rank) return hooks;
  const int64_t kill_after = env_step("SBERT_FAULT_KILL_AFTER_STEP");
  const int64_t kill_in_ckpt = env_step("SBERT_FAULT_KILL_IN_CHECKPOINT");
  const int64_t throw_after = env_step("SBERT_FAULT_THROW_AFTER_STEP");
  const int64_t stall_after = env_step("SBERT_FAULT_STALL_AFTER_STEP");
  hooks.after_step = [=](int64_t step, double /*loss*/) {
    if (step == kill_after) std::raise(SIGKILL);
    if (step == throw_after) sbert::fail("[fault] injected failure after step ", step);
    if (step == stall_after) std::this_thread::sleep_for(std::chrono::hours(1));
  };
  if (kill_in_ckpt >= 0) {
    hooks.before_checkpoint_commit = [kill_in_ckpt](int64_t step) {
      if (step == kill_in_ckpt) std::raise(SIGKILL);
    };
  }
  return hooks;
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
    sbert::CommOptions copt;
    copt.timeout = std::chrono::seconds(cfg.trainer.dist_timeout_sec);
    copt.gpu = cfg.trainer.accelerator == "gpu" || cfg.trainer.accelerator == "cuda";
    const std::unique_ptr<sbert::Communicator> comm = sbert::make_communicator(copt);
    sbert::TrainResult r;
    if (comm->size() == 1) {
      r = sbert::train(cfg, fault_hooks(0), comm.get());
    } else {
      // A failure on one rank must end them all, with this rank's message, not leave the others
      // waiting in a collective: print it, then abort the whole job.
      try {
        r = sbert::train(cfg, fault_hooks(comm->rank()), comm.get());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "sbert-finetune: error: [rank %d of %d] %s\n", comm->rank(),
                     comm->size(), e.what());
        std::fflush(stderr);
        comm->abort(1);
      }
      if (comm->rank() != 0) return 0;
    }
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
