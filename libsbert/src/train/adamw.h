// AdamW over the one parameter block of a ParamLayout, with torch.optim.AdamW's arithmetic:
//
//   step += 1
//   p *= 1 - lr * weight_decay                     (decoupled decay; only tensors whose
//                                                   ParamSpec::weight_decay is true)
//   m = beta1 m + (1 - beta1) g                    (torch: m.lerp_(g, 1 - beta1))
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
//
// Defaults are NeMo's embedding config (model.optim): betas (0.9, 0.98), weight_decay 0.01,
// eps 1e-8. Biases and LayerNorm parameters get no decay (the NeMo / Hugging Face parameter
// groups; make_bert_layout sets the flags). The learning rate comes from the schedule at every
// step. One OpenMP pass over the block, in chunks that never straddle a decay boundary; padding
// between tensors is updated as a no-decay range (its gradient is 0, so it stays 0).
//
// The state (m, v, step) is exposed for checkpoints: saving it (read_state) and restoring it
// (set_state) resumes bit for bit. On a CUDA Context the state lives on the device and step()
// takes device pointers; the CUDA kernel performs the CPU's operations exactly (no FMA
// contraction), so both devices give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "core/context.h"
#include "cpu/train_kernels.h"
#include "nn/bert_params.h"

namespace sbert {

struct AdamWConfig {
  double beta1 = 0.9;          // model.optim.betas[0]
  double beta2 = 0.98;         // model.optim.betas[1]
  double eps = 1e-8;           // model.optim.eps
  double weight_decay = 0.01;  // model.optim.weight_decay
};

// Throws naming the key: "[adamw] model.optim.betas[1] must be in [0, 1), got 1".
void validate(const AdamWConfig& cfg);

// The scalars of update number t (1-based) at learning rate lr, for a tensor with weight decay
// (decay_mul = 1 without): computed in double as torch's _single_tensor_adam does in Python,
// then rounded to float where they meet float tensors.
cpu::AdamWScalars adamw_scalars(const AdamWConfig& cfg, double lr, int64_t t);

class AdamW {
 public:
  // m and v sized layout.total, zeroed, on ctx's device; step 0. Throws for overlapping or
  // out-of-block specs.
  AdamW(const ParamLayout& layout, const AdamWConfig& cfg, const Context& ctx = {});

  // One update of params (layout.total floats) with grads (same size) at learning rate lr;
  // both on the state's device.
  void step(float* params, const float* grads, double lr);

  int64_t size() const { return total_; }
  int64_t step_count() const { return step_; }
  const AdamWConfig& config() const { return cfg_; }

  // m and v (size()) on the state's device.
  float* exp_avg() { return m_.data(); }
  const float* exp_avg() const { return m_.data(); }
  float* exp_avg_sq() { return v_.data(); }
  const float* exp_avg_sq() const { return v_.data(); }

  // Copies m and v (size() floats each) to host memory.
  void read_state(float* m, float* v) const;
  // Restores a saved state from host memory: m, v of size() floats each, and the step counter
  // (>= 0).
  void set_state(const float* m, const float* v, int64_t step);

 private:
  struct Chunk {
    int64_t begin;
    int64_t end;
    bool decay;
  };
  AdamWConfig cfg_;
  Context ctx_;
  int64_t total_ = 0;
  int64_t step_ = 0;
  Buffer<float> m_, v_;
  std::vector<Chunk> chunks_;  // CPU: OpenMP work items (a tensor in pieces)
  // CUDA: the tensors' ranges for one launch over the block (ends ascending, decay flags).
  Buffer<int64_t> range_ends_;
  Buffer<uint8_t> range_decay_;
};

}  // namespace sbert
