// fit(): the training loop of sbert-finetune, written only with Trainer's public methods.
#include <cmath>
#include <cstdio>

#include "core/check.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

namespace sbert {

namespace fs = std::filesystem;

TrainResult fit_trainer(Trainer& t, const FitCallbacks& cb) {
  const TrainOptions& opt = t.options();
  const auto& em = opt.exp_manager;
  const auto& ck = em.checkpoint;
  auto say = [&](MessageLevel level, const std::string& text) {
    if (cb.on_message) cb.on_message(level, text);
  };
  if (cb.on_message) t.set_message_handler(cb.on_message);
  if (cb.before_checkpoint_commit) t.set_before_checkpoint_commit(cb.before_checkpoint_commit);

  TrainResult result;
  result.log_dir = t.log_dir();
  const std::optional<fs::path> latest = t.latest_checkpoint();
  if (latest) {
    SBERT_CHECK(em.resume_if_exists, "[train] ", t.log_dir().string(),
                " already holds checkpoints (", latest->filename().string(),
                "); set exp_manager.resume_if_exists=true to continue that run, or choose "
                "another exp_manager.explicit_log_dir");
    t.resume();
    result.resumed_from = t.steps_done();
  } else if (em.resume_if_exists && !em.resume_ignore_no_checkpoint) {
    fail("[train] ", (t.log_dir() / "checkpoints").string(),
         ": no checkpoint to resume from (exp_manager.resume_ignore_no_checkpoint is false)");
  }
  for (const auto& w : opt.warnings) say(MessageLevel::Warning, w);
  const RunPlan plan = t.plan();
  if (cb.on_start) cb.on_start(plan);
  if (latest && t.steps_done() >= plan.last_step) {
    // A finished run started again: report where it stands and touch nothing (its config.yaml
    // records what it trained with, not this command line's overrides).
    result.already_done = true;
    result.steps = t.steps_done();
    result.last_checkpoint = *latest;
    result.last_loss = last_logged_loss(t.log_dir(), t.steps_done()).value_or(std::nan(""));
    return result;
  }

  if (!latest && opt.trainer.num_sanity_val_steps > 0 && t.has_validation()) {
    if (!opt.model.data.validation_beir.path.empty() ||
        !opt.model.data.validation_sts.path.empty()) {
      // The base model's full validation, logged at step 0: the curves start where the model
      // did. It stands in for the sanity check.
      const auto v0 = t.validate(opt.trainer.limit_val_batches);
      if (cb.on_validation) cb.on_validation(0, v0);
    } else {
      const auto v = t.validate(opt.trainer.num_sanity_val_steps, /*record=*/false);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6f", v.at("val_loss"));
      say(MessageLevel::Info, std::string("sanity validation: val_loss ") + buf);
    }
  }

  // trainer.val_check_interval may be a fraction of an epoch (Lightning's float): in steps here.
  const int64_t val_every = opt.val_check_steps(t.steps_per_epoch());
  const int64_t first_step = t.steps_done();
  bool saved_last = false;
  while (t.steps_done() < t.max_steps()) {
    const std::optional<StepInfo> s = t.step();
    if (!s) break;  // trainer.max_epochs reached
    if (cb.on_step) cb.on_step(*s);
    result.last_loss = s->loss;

    std::optional<double> monitor;
    if (t.has_validation() && s->step % val_every == 0) {
      const auto v = t.validate(opt.trainer.limit_val_batches);
      if (cb.on_validation) cb.on_validation(s->step, v);
      const auto it = v.find(ck.monitor);
      if (it != v.end()) monitor = it->second;
    }
    const bool due = em.create_checkpoint_callback &&
                     (ck.every_n_train_steps > 0
                          ? s->step % ck.every_n_train_steps == 0
                          : s->step % val_every == 0);
    saved_last = false;
    if (due) {
      result.last_checkpoint = t.save_checkpoint(monitor);
      if (cb.on_checkpoint && !result.last_checkpoint.empty())
        cb.on_checkpoint(s->step, result.last_checkpoint);
      saved_last = true;
    }
    if (cb.should_stop && cb.should_stop() && t.steps_done() < t.max_steps()) {
      result.stopped = true;
      break;
    }
  }
  // A stopped run always leaves a checkpoint to resume from; a finished one when save_last.
  if (em.create_checkpoint_callback && (ck.save_last || result.stopped) && !saved_last &&
      t.steps_done() > first_step) {
    result.last_checkpoint = t.save_checkpoint();
    if (cb.on_checkpoint && !result.last_checkpoint.empty())
      cb.on_checkpoint(t.steps_done(), result.last_checkpoint);
  } else if (result.last_checkpoint.empty()) {
    if (auto l = t.latest_checkpoint()) result.last_checkpoint = *l;
  }
  if (latest && t.steps_done() == first_step && !result.stopped) {
    // max_epochs was already reached: the first step() found no batch left.
    result.already_done = true;
    result.last_checkpoint = *latest;
    result.last_loss = last_logged_loss(t.log_dir(), t.steps_done()).value_or(std::nan(""));
    result.steps = t.steps_done();
    return result;
  }
  result.steps = t.steps_done();
  if (auto best = t.best_checkpoint()) result.best_checkpoint = *best;
  result.plot = t.write_plot();
  return result;
}

TrainResult fit(const TrainOptions& options, const FitCallbacks& callbacks, ProcessGroup* group) {
  Trainer t(options, std::nullopt, std::nullopt, group);
  return fit_trainer(t, callbacks);
}

TrainResult fit(const TrainOptions& options, const TrainData& train, const FitCallbacks& callbacks,
                ProcessGroup* group) {
  Trainer t(options, train, std::nullopt, group);
  return fit_trainer(t, callbacks);
}

TrainResult train(const TrainConfig& cfg, const TrainerHooks& hooks, Communicator* comm) {
  Trainer t = make_trainer(cfg, comm, hooks.loss_blocks);
  FitCallbacks cb;
  double loss = 0;
  cb.on_step = [&loss](const StepInfo& s) { loss = s.loss; };
  if (hooks.after_step) {
    // should_stop is asked after the step's checkpoint, where after_step belongs.
    cb.should_stop = [&] {
      hooks.after_step(t.steps_done(), loss);
      return false;
    };
  }
  cb.before_checkpoint_commit = hooks.before_checkpoint_commit;
  return fit_trainer(t, cb);
}

}  // namespace sbert
