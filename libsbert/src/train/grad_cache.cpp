#include "train/grad_cache.h"

#include <algorithm>

namespace sbert {

GradCache::GradCache(const Context& ctx, const Model::Impl& model)
    : ctx_(ctx), model_(model), head_cfg_(model.config), H_(model.config.hidden_size) {
  head_cfg_.normalize = true;
}

GradCache::Chunk GradCache::pack(const TrainBatch& global, size_t begin, size_t end) {
  const size_t K = static_cast<size_t>(global.num_negatives);
  std::vector<std::vector<int32_t>> seqs;
  Chunk c;
  for (size_t i = begin; i < end; ++i) {
    seqs.push_back(global.queries[i]);
    c.dest.push_back({0, static_cast<int64_t>(i)});
  }
  for (size_t i = begin; i < end; ++i) {
    seqs.push_back(global.positives[i]);
    c.dest.push_back({1, static_cast<int64_t>(i)});
  }
  for (size_t slot = begin * K; slot < end * K; ++slot) {
    if (!global.negative_mask[slot]) continue;
    seqs.push_back(global.negatives[slot]);
    c.dest.push_back({2, static_cast<int64_t>(slot)});
  }
  c.batch = pack_sequences(seqs, 0, static_cast<int64_t>(seqs.size()));
  return c;
}

std::vector<GradCache::Chunk> GradCache::chunks(const TrainBatch& batch, size_t micro) const {
  std::vector<Chunk> out;
  for (size_t b = 0; b < batch.size(); b += micro) {
    out.push_back(pack(batch, b, std::min(batch.size(), b + micro)));
  }
  return out;
}

void GradCache::resize(int64_t G, int64_t K) {
  for (auto* v : {&q_, &p_, &dq_, &dp_}) v->assign(static_cast<size_t>(G * H_), 0.0f);
  for (auto* v : {&n_, &dn_}) v->assign(static_cast<size_t>(G * K * H_), 0.0f);
}

float* GradCache::row(uint8_t kind, int64_t r, bool grad) {
  auto& m = kind == 0 ? (grad ? dq_ : q_) : kind == 1 ? (grad ? dp_ : p_) : (grad ? dn_ : n_);
  return m.data() + r * H_;
}

void GradCache::forward(const Chunk& c, const DropoutState& d, bool keep) {
  cache_.keep_all = keep;
  encoder_forward(ctx_, model_.config, model_.view, c.batch, cache_, d);
  pooling_forward(ctx_, head_cfg_, cache_.output, c.batch, pool_);
}

void GradCache::scatter(const Chunk& c) {
  for (size_t s = 0; s < c.dest.size(); ++s) {
    std::copy_n(pool_.out.data() + static_cast<int64_t>(s) * H_, H_,
                row(c.dest[s].kind, c.dest[s].row, false));
  }
}

LossStats GradCache::gradients(const TrainBatch& batch, size_t micro, const LossConfig& loss,
                               DropoutState dropout, const BertView& grads, float* grad_block,
                               int64_t* tokens) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  resize(G, K);
  const std::vector<Chunk> cs = chunks(batch, micro);
  const bool single = cs.size() == 1;
  int64_t n_tokens = 0;
  for (size_t c = 0; c < cs.size(); ++c) {  // phase 1
    dropout.micro = static_cast<uint32_t>(c);
    forward(cs[c], dropout, single);
    scatter(cs[c]);
    n_tokens += cs[c].batch.tokens();
  }
  const LossStats stats =
      contrastive_loss(ctx_, loss, dq_.data(), dp_.data(), dn_.data(), q_.data(), p_.data(),
                       n_.data(), batch.negative_mask.data(), G, K, H_);
  std::fill(grad_block, grad_block + model_.layout.total, 0.0f);
  for (size_t c = 0; c < cs.size(); ++c) {  // phase 2
    const Chunk& ch = cs[c];
    dropout.micro = static_cast<uint32_t>(c);
    if (!single) forward(ch, dropout, true);
    const int64_t nseq = ch.batch.nseq();
    dout_.resize(static_cast<size_t>(nseq * H_));
    for (int64_t s = 0; s < nseq; ++s) {
      const Dest& d = ch.dest[static_cast<size_t>(s)];
      std::copy_n(row(d.kind, d.row, true), H_, dout_.data() + s * H_);
    }
    dhidden_.resize(static_cast<size_t>(ch.batch.tokens() * H_));
    pooling_backward(ctx_, head_cfg_, ch.batch, pool_, dout_.data(), dhidden_.data());
    encoder_backward(ctx_, model_.config, model_.view, ch.batch, cache_, dropout, dhidden_.data(),
                     grads);
  }
  if (tokens) *tokens = n_tokens;
  return stats;
}

LossStats GradCache::loss_only(const TrainBatch& batch, size_t micro, const LossConfig& loss) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  resize(G, K);
  for (const Chunk& c : chunks(batch, micro)) {
    forward(c, DropoutState{}, false);
    scatter(c);
  }
  return contrastive_loss(ctx_, loss, dq_.data(), dp_.data(), dn_.data(), q_.data(), p_.data(),
                          n_.data(), batch.negative_mask.data(), G, K, H_);
}

}  // namespace sbert
