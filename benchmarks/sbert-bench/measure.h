// sbert-bench measurements: a model of the workload's shape with random weights (HF's init:
// normal(0, 0.02), LayerNorm 1 / 0), then warmup + timed training steps (GradCache forward,
// NeMo InfoNCE, backward, AdamW) or embedding passes (forward, mean pooling, L2 normalize).
#pragma once

#include <string>

#include "sbert/model.h"
#include "sbert/train.h"
#include "workload.h"

namespace sbert::bench {

struct Result {
  int threads = 0;
  int steps = 0;
  double step_s_median = 0, step_s_min = 0;
  double cpu_s_per_step = 0;  // process CPU time (all threads) per step: robust to other load
  double samples_per_s = 0;   // train: queries (training examples); embed: sequences
  double sequences_per_s = 0;
  double real_tokens_per_s = 0;
  double real_tokens_per_step = 0;
  double flops_per_step = 0;  // 6N + 12 L d s per token (train), a third of it (embed)
  double tflops_per_s = 0;
  double mfu = -1;          // against 989 TFLOP/s (H100 dense bf16); GPU only, else -1
  double peak_rss_mib = 0;  // VmHWM over the timed steps (weights, gradients, AdamW included)
  // GPU: the most device memory in use at the end of a step or pass, less what was in use before
  // the run (cuBLASLt's workspace, weights, gradients, AdamW, caches and workspaces); else -1.
  double peak_device_mib = -1;
  // GPU training: the device memory placed and planned before the first step (weights,
  // gradients, AdamW and the caches reserved for the workload's largest batch: GradCache::reserve),
  // less what was in use before the run; else -1. peak_device_mib equals it when no step grew a
  // buffer.
  double planned_device_mib = -1;
};

// precision: as trainer.precision (the mixed ones CUDA only). 16-mixed scales the loss by a
// fixed 2^16 and unscales the gradients before AdamW, as the trainer's step does between the
// scale's updates (which are host arithmetic). cudnn: model.attention_backend cudnn (bf16-mixed
// only). progress: after every step or pass (warmup included), outside the timed region.
Result measure(const Workload& w, const Tokenizer& tok, Device device, Precision precision,
               bool cudnn, int threads, const ProgressCallback& progress = {});

// "32", "bf16-mixed" or "16-mixed".
const char* precision_name(Precision p);

std::string to_json(const Workload& w, Device device, Precision precision, bool cudnn,
                    const Result& r);

}  // namespace sbert::bench
