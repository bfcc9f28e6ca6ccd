// Shared set-up of the [cuda] fine-tuning tests: tiny-bert on generated examples, and the
// per-step figures a run logs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sbert/train.h"
#include "support/fixtures.h"

namespace sbert::test {

// n (query, positive, two negatives) examples, each text distinct.
inline std::vector<TrainExample> finetune_examples(int n) {
  std::vector<TrainExample> ex;
  for (int i = 0; i < n; ++i) {
    std::string k = std::to_string(i);
    ex.push_back({"the query number " + k,
                  "a passage about topic " + k,
                  {"an unrelated text " + k, "another text " + k}});
  }
  return ex;
}

// tiny-bert, dropout on (the model's 0.1), two micro-batches per step (GradCache recomputes),
// clipping at 1.0, one hard negative.
inline TrainOptions finetune_options(const std::filesystem::path& log_dir, Accelerator a,
                                     int64_t steps) {
  TrainOptions opt;
  opt.restore_from_path = fixture_dir("tiny-bert").string();
  opt.exp_manager.explicit_log_dir = log_dir.string();
  opt.trainer.accelerator = a;
  opt.trainer.max_steps = steps;
  opt.trainer.threads = 2;
  opt.trainer.gradient_clip_val = 1.0;
  opt.model.global_batch_size = 4;
  opt.model.micro_batch_size = 2;
  opt.model.optim.lr = 1e-3;
  opt.model.data.hard_negatives_to_train = 1;
  return opt;
}

struct FinetuneRun {
  std::vector<double> loss, grad_norm, lr, scale;
};

// Steps t to its end.
inline FinetuneRun run_steps(Trainer& t) {
  FinetuneRun r;
  while (auto s = t.step()) {
    r.loss.push_back(s->loss);
    r.grad_norm.push_back(s->grad_norm);
    r.lr.push_back(s->lr);
    r.scale.push_back(s->loss_scale);
  }
  return r;
}

}  // namespace sbert::test
