// sbert-finetune: contrastive fine-tuning from a NeMo-style YAML config, a driver on
// sbert::fit (sbert/train.h).
//   sbert-finetune --config-path conf --config-name sbert_finetune model.optim.lr=1e-5 ...
//   mpirun -np 2 sbert-finetune ... trainer.devices=2      (docs/distributed.md)
// Ctrl-C (one process): the run stops at the end of the step, writes a checkpoint and exits 130.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "cli.h"
#include "train_progress.h"
#include "sbert/error.h"
#include "sbert/train.h"

namespace {

// A signal handler can reach only static storage: the one flag of the app.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

// Fault injection for the crash-and-resume tests: SIGKILL this process after a given step, or
// while a checkpoint's files are written but not yet renamed into place; in a multi-process
// job also throw, or stall (to trip the other ranks' collective timeout), after a step; or
// raise SIGINT after a step, as a Ctrl-C then would. With SBERT_FAULT_RANK=r only rank r
// misbehaves.
int64_t env_step(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : -1;
}

struct Faults {
  int64_t kill_after = -1, kill_in_ckpt = -1, throw_after = -1, stall_after = -1,
          sigint_after = -1;
};

Faults read_faults(int rank) {
  Faults f;
  const int64_t only = env_step("SBERT_FAULT_RANK");
  if (only >= 0 && only != rank) return f;
  f.kill_after = env_step("SBERT_FAULT_KILL_AFTER_STEP");
  f.kill_in_ckpt = env_step("SBERT_FAULT_KILL_IN_CHECKPOINT");
  f.throw_after = env_step("SBERT_FAULT_THROW_AFTER_STEP");
  f.stall_after = env_step("SBERT_FAULT_STALL_AFTER_STEP");
  f.sigint_after = env_step("SBERT_FAULT_SIGINT_AFTER_STEP");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-finetune", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-finetune",
        "Fine-tunes a sentence embedding model contrastively (NeMo's InfoNCE with hard\n"
        "negatives) from a YAML config with NeMo's key names. Positional arguments are\n"
        "dotted overrides: model.optim.lr=1e-5 trainer.max_steps=100\n"
        "--keys lists every key with its type, default and meaning.",
        {{"--config-path", "folder holding the config", true, false, ""},
         {"--config-name", "config file name (with or without .yaml)", true, false, ""},
         {"--keys", "print every config key and exit", false, false, ""},
         {"--reference", "print the commented reference config (conf/reference.yaml) and exit",
          false, false, ""},
         {"--dry-run", "print the resolved config, each value with where it came from (default, "
          "file:line, command-line override), and exit without training", false, false, ""}},
        /*allow_positional=*/true);
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    if (args.flag("--keys")) {
      std::fputs(sbert::TrainOptions::keys_help().c_str(), stdout);
      return 0;
    }
    if (args.flag("--reference")) {
      std::fputs(sbert::TrainOptions::reference_yaml().c_str(), stdout);
      return 0;
    }
    if (!args.has("--config-path") || !args.has("--config-name")) {
      throw sbert::cli::UsageError{"missing required option --config-path / --config-name"};
    }
    const sbert::TrainOptions opt = sbert::TrainOptions::from_nemo_yaml(
        args.get("--config-path"), args.get("--config-name"), args.positional());
    if (args.flag("--dry-run")) {
      std::fputs(opt.describe().c_str(), stdout);
      for (const auto& w : opt.warnings) std::fprintf(stderr, "sbert-finetune: warning: %s\n", w.c_str());
      return 0;
    }
    sbert::ProcessGroup group = sbert::ProcessGroup::from_environment(
        opt.trainer.dist_timeout_sec, opt.trainer.accelerator == sbert::Accelerator::GPU);
    const int rank = group.rank();
    const Faults faults = read_faults(rank);
    sbert::cli::TrainProgress progress;
    sbert::FitCallbacks cb;
    if (rank == 0) {
      cb.on_start = [&](const sbert::RunPlan& p) { progress.start(opt, p); };
      cb.on_step = [&](const sbert::StepInfo& s) { progress.step(s); };
      cb.on_validation = [&](int64_t step, const std::map<std::string, double>& m) {
        progress.validation(step, m);
      };
      cb.on_message = [&](sbert::MessageLevel l, const std::string& t) { progress.message(l, t); };
    }
    cb.before_checkpoint_commit = [&](int64_t step) {
      if (step == faults.kill_in_ckpt) std::raise(SIGKILL);
    };
    // should_stop is asked after each step and its checkpoint: where the fault hooks belong, and
    // Ctrl-C. The step number comes from on_step, which runs before it.
    int64_t current = 0;
    auto user_on_step = cb.on_step;
    cb.on_step = [&, user_on_step](const sbert::StepInfo& s) {
      current = s.step;
      if (user_on_step) user_on_step(s);
    };
    cb.should_stop = [&] {
      if (current == faults.kill_after) std::raise(SIGKILL);
      if (current == faults.throw_after) {
        throw sbert::Error("[fault] injected failure after step " + std::to_string(current));
      }
      if (current == faults.stall_after) std::this_thread::sleep_for(std::chrono::hours(1));
      if (current == faults.sigint_after) std::raise(SIGINT);
      return g_interrupted != 0;
    };
    if (group.size() == 1) std::signal(SIGINT, on_sigint);

    sbert::TrainResult r;
    if (group.size() == 1) {
      r = sbert::fit(opt, cb, &group);
    } else {
      // A failure on one rank must end them all, with this rank's message, not leave the others
      // waiting in a collective: print it, then abort the whole job.
      try {
        r = sbert::fit(opt, cb, &group);
      } catch (const std::exception& e) {
        progress.end_line();
        std::fprintf(stderr, "sbert-finetune: error: [rank %d of %d] %s\n", rank, group.size(),
                     e.what());
        std::fflush(stderr);
        group.abort(1);
      }
      if (rank != 0) return 0;
    }
    progress.end_line();
    if (r.stopped) {
      std::fprintf(stderr, "sbert-finetune: interrupted after step %lld; checkpoint %s (run again to resume)\n",
                   static_cast<long long>(r.steps), r.last_checkpoint.c_str());
      return 130;
    }
    if (r.already_done) {
      // Nothing trained and nothing rewritten: say where the run stands and how to go on.
      const bool by_steps = r.steps >= opt.trainer.max_steps && opt.trainer.max_steps > 0;
      const std::string where =
          by_steps ? "already at max_steps " + std::to_string(r.steps)
                   : "already at step " + std::to_string(r.steps) + ", the end of " +
                         "trainer.max_epochs=" + std::to_string(opt.trainer.max_epochs);
      std::fprintf(stderr,
                   "sbert-finetune: %s: %s (last loss %.6f); nothing to train, nothing "
                   "rewritten. Raise %s to continue this run, or choose another "
                   "exp_manager.explicit_log_dir. Model: %s\n",
                   r.log_dir.c_str(), where.c_str(), r.last_loss,
                   by_steps ? "trainer.max_steps" : "trainer.max_epochs",
                   r.last_checkpoint.c_str());
      return 0;
    }
    std::fprintf(stderr, "sbert-finetune: %lld steps done (last loss %.6f); logs in %s\n",
                 static_cast<long long>(r.steps), r.last_loss, r.log_dir.c_str());
    std::fprintf(stderr, "sbert-finetune: training curves in %s\n", r.plot.c_str());
    if (!r.last_checkpoint.empty()) {
      std::fprintf(stderr, "sbert-finetune: latest checkpoint (model and training state): %s\n",
                   r.last_checkpoint.c_str());
    }
    if (!r.best_checkpoint.empty()) {
      std::fprintf(stderr, "sbert-finetune: best checkpoint by %s: %s\n",
                   opt.exp_manager.checkpoint.monitor.c_str(), r.best_checkpoint.c_str());
    }
    if (!r.last_checkpoint.empty()) {
      std::fprintf(stderr, "sbert-finetune: use it with --model %s (%s checkpoint)\n",
                   r.log_dir.c_str(), r.best_checkpoint.empty() ? "its latest" : "its best");
    }
    return 0;
  });
}
