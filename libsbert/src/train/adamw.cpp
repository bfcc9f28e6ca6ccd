#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "cpu/train_kernels.h"
#include "cuda/train_kernels.h"

namespace sbert {

namespace {
// Elements per OpenMP work item: large enough to amortise scheduling, small enough to
// balance a block whose tensors range from 768 to 23M floats.
constexpr int64_t kChunk = 1 << 14;
}  // namespace

void validate(const AdamWConfig& cfg) {
  SBERT_CHECK(cfg.beta1 >= 0.0 && cfg.beta1 < 1.0,
              "[adamw] model.optim.betas[0] must be in [0, 1), got ", cfg.beta1);
  SBERT_CHECK(cfg.beta2 >= 0.0 && cfg.beta2 < 1.0,
              "[adamw] model.optim.betas[1] must be in [0, 1), got ", cfg.beta2);
  SBERT_CHECK(std::isfinite(cfg.eps) && cfg.eps >= 0.0,
              "[adamw] model.optim.eps must be >= 0, got ", cfg.eps);
  SBERT_CHECK(std::isfinite(cfg.weight_decay) && cfg.weight_decay >= 0.0,
              "[adamw] model.optim.weight_decay must be >= 0, got ", cfg.weight_decay);
}

AdamW::AdamW(const ParamLayout& layout, const AdamWConfig& cfg, const Context& ctx)
    : cfg_(cfg), ctx_(ctx), total_(layout.total) {
  validate(cfg);
  SBERT_CHECK(total_ >= 0, "[adamw] parameter block size must be >= 0, got ", total_);
  std::vector<const ParamSpec*> specs;
  for (const ParamSpec& s : layout.specs) specs.push_back(&s);
  std::sort(specs.begin(), specs.end(),
            [](const ParamSpec* a, const ParamSpec* b) { return a->offset < b->offset; });
  // Ranges covering [0, total): each tensor with its flag, the gaps as no-decay.
  struct Range {
    int64_t begin, end;
    bool decay;
  };
  std::vector<Range> ranges;
  int64_t pos = 0;
  for (const ParamSpec* s : specs) {
    SBERT_CHECK(s->offset >= pos, "[adamw] parameter '", s->name, "' at offset ", s->offset,
                " overlaps the previous one, which ends at ", pos);
    SBERT_CHECK(s->numel >= 0 && s->offset + s->numel <= total_, "[adamw] parameter '", s->name,
                "' (offset ", s->offset, ", ", s->numel, " floats) exceeds the block of ", total_);
    if (s->offset > pos) ranges.push_back({pos, s->offset, false});
    ranges.push_back({s->offset, s->offset + s->numel, s->weight_decay});
    pos = s->offset + s->numel;
  }
  if (pos < total_) ranges.push_back({pos, total_, false});
  std::vector<int64_t> ends;
  std::vector<uint8_t> decay;
  for (const Range& r : ranges) {
    if (r.end > r.begin) {
      ends.push_back(r.end);
      decay.push_back(r.decay ? 1 : 0);
    }
    for (int64_t b = r.begin; b < r.end; b += kChunk) {
      chunks_.push_back({b, std::min(r.end, b + kChunk), r.decay});
    }
  }
  if (ctx_.device == Device::CUDA) {
    stage(ctx_, range_ends_, ends);
    stage(ctx_, range_decay_, decay);
  }
  for (Buffer<float>* s : {&m_, &v_}) {
    s->resize(ctx_, static_cast<size_t>(total_));
    fill_zero(ctx_, s->data(), static_cast<size_t>(total_) * sizeof(float));
  }
}

cpu::AdamWScalars adamw_scalars(const AdamWConfig& cfg, double lr, int64_t t) {
  const double bias_correction1 = 1.0 - std::pow(cfg.beta1, static_cast<double>(t));
  const double bias_correction2 = 1.0 - std::pow(cfg.beta2, static_cast<double>(t));
  cpu::AdamWScalars s;
  s.decay_mul = static_cast<float>(1.0 - lr * cfg.weight_decay);
  s.one_minus_beta1 = static_cast<float>(1.0 - cfg.beta1);
  s.beta2 = static_cast<float>(cfg.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - cfg.beta2);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.neg_step_size = static_cast<float>(-(lr / bias_correction1));
  s.eps = static_cast<float>(cfg.eps);
  return s;
}

void AdamW::step(float* params, const float* grads, double lr) {
  SBERT_CHECK(std::isfinite(lr) && lr >= 0.0, "[adamw] learning rate must be >= 0, got ", lr);
  SBERT_CHECK(total_ == 0 || (params && grads), "[adamw] parameters or gradients are null");
  ++step_;
  const cpu::AdamWScalars with_decay = adamw_scalars(cfg_, lr, step_);
  cpu::AdamWScalars no_decay = with_decay;
  no_decay.decay_mul = 1.0f;

  if (ctx_.device == Device::CUDA) {  // one launch over every tensor
    cuda::adamw_update_multi(params, m_.data(), v_.data(), grads, total_, range_ends_.data(),
                             range_decay_.data(), static_cast<int>(range_ends_.size()),
                             with_decay, no_decay, cuda_runtime(ctx_, "adamw"));
    return;
  }
  const int64_t nchunks = static_cast<int64_t>(chunks_.size());
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nchunks; ++c) {
    const Chunk& ch = chunks_[static_cast<size_t>(c)];
    cpu::adamw_update(params + ch.begin, m_.data() + ch.begin, v_.data() + ch.begin,
                      grads + ch.begin, ch.end - ch.begin, ch.decay ? with_decay : no_decay);
  }
}

void AdamW::set_state(const float* m, const float* v, int64_t step) {
  SBERT_CHECK(step >= 0, "[adamw] step must be >= 0, got ", step);
  SBERT_CHECK(total_ == 0 || (m && v), "[adamw] state to restore is null");
  m_.write(ctx_, m);
  v_.write(ctx_, v);
  step_ = step;
}

void AdamW::read_state(float* m, float* v) const {
  m_.read(ctx_, m);
  v_.read(ctx_, v);
}

}  // namespace sbert
