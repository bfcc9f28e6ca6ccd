#include "train/grad_cache.h"

#include <algorithm>

#include "core/check.h"
#include "dist/communicator.h"

namespace sbert {

GradCache::GradCache(const Context& ctx, const Model::Impl& model, DataParallel dp)
    : ctx_(ctx), model_(model), head_cfg_(model.config), H_(model.config.hidden_size), par_(dp) {
  head_cfg_.normalize = true;
  SBERT_CHECK(par_.loss_blocks >= 1, "[grad_cache] loss_blocks must be >= 1, got ",
              par_.loss_blocks);
}

int GradCache::world() const { return par_.comm ? par_.comm->size() : 1; }
int GradCache::rank() const { return par_.comm ? par_.comm->rank() : 0; }

LossStats GradCache::loss(const TrainBatch& batch, const LossConfig& cfg, bool grads) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  const int W = world();
  if (W > 1 && par_.global_negatives) {
    // Every rank computes the loss of the whole global batch on the gathered embeddings (the
    // same numbers everywhere) and keeps the gradient rows of its own queries and passages.
    const int64_t GW = G * W;
    for (auto* v : {&gq_, &gp_}) v->resize(static_cast<size_t>(GW * H_));
    gn_.resize(static_cast<size_t>(GW * K * H_));
    gmask_.resize(static_cast<size_t>(GW * K));
    const size_t row_bytes = static_cast<size_t>(H_) * sizeof(float);
    par_.comm->all_gather(q_.data(), static_cast<size_t>(G) * row_bytes, gq_.data());
    par_.comm->all_gather(p_.data(), static_cast<size_t>(G) * row_bytes, gp_.data());
    if (K > 0) {
      par_.comm->all_gather(n_.data(), static_cast<size_t>(G * K) * row_bytes, gn_.data());
      par_.comm->all_gather(batch.negative_mask.data(), static_cast<size_t>(G * K), gmask_.data());
    }
    if (grads) {
      for (auto* v : {&gdq_, &gdp_}) v->resize(static_cast<size_t>(GW * H_));
      gdn_.resize(static_cast<size_t>(GW * K * H_));
    }
    const LossStats stats =
        contrastive_loss(ctx_, cfg, grads ? gdq_.data() : nullptr, grads ? gdp_.data() : nullptr,
                         grads ? gdn_.data() : nullptr, gq_.data(), gp_.data(), gn_.data(),
                         gmask_.data(), GW, K, H_);
    if (grads) {
      const int64_t r = rank();
      std::copy_n(gdq_.data() + r * G * H_, G * H_, dq_.data());
      std::copy_n(gdp_.data() + r * G * H_, G * H_, dp_.data());
      std::copy_n(gdn_.data() + r * G * K * H_, G * K * H_, dn_.data());
    }
    return stats;
  }
  // Independent blocks: this rank's rows in loss_blocks pieces, W ranks; the objective is the
  // mean of the W * loss_blocks block losses.
  const int64_t blocks = par_.loss_blocks;
  if (blocks == 1 && W == 1) {
    return contrastive_loss(ctx_, cfg, grads ? dq_.data() : nullptr, grads ? dp_.data() : nullptr,
                            grads ? dn_.data() : nullptr, q_.data(), p_.data(), n_.data(),
                            batch.negative_mask.data(), G, K, H_);
  }
  SBERT_CHECK(G % blocks == 0, "[grad_cache] ", G, " rows do not split into ", blocks,
              " loss blocks");
  const int64_t Gb = G / blocks;
  // Sums over blocks: loss, accuracy, pos, in-batch neg, hard neg x count, hard-negative count
  double sums[6] = {0, 0, 0, 0, 0, 0};
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t q0 = b * Gb * H_, n0 = b * Gb * K * H_;
    const LossStats s = contrastive_loss(
        ctx_, cfg, grads ? dq_.data() + q0 : nullptr, grads ? dp_.data() + q0 : nullptr,
        grads ? dn_.data() + n0 : nullptr, q_.data() + q0, p_.data() + q0, n_.data() + n0,
        batch.negative_mask.data() + b * Gb * K, Gb, K, H_);
    sums[0] += s.loss;
    sums[1] += s.accuracy;
    sums[2] += s.pos_score;
    sums[3] += s.inbatch_neg_score;
    sums[4] += s.hard_neg_score * static_cast<double>(s.hard_negatives);
    sums[5] += static_cast<double>(s.hard_negatives);
  }
  const double parts = static_cast<double>(blocks) * W;
  if (grads && parts > 1) {
    const float scale = static_cast<float>(1.0 / parts);
    for (auto* v : {&dq_, &dp_, &dn_}) {
      for (float& x : *v) x *= scale;
    }
  }
  if (W > 1) par_.comm->host_all_reduce_sum(sums, 6);
  LossStats out;
  out.loss = sums[0] / parts;
  out.accuracy = sums[1] / parts;
  out.pos_score = sums[2] / parts;
  out.inbatch_neg_score = sums[3] / parts;
  out.hard_neg_score = sums[5] > 0 ? sums[4] / sums[5] : 0.0;
  out.hard_negatives = static_cast<int64_t>(sums[5]);
  return out;
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

LossStats GradCache::gradients(const TrainBatch& batch, size_t micro, const LossConfig& loss_cfg,
                               DropoutState dropout, const BertView& grads, float* grad_block,
                               int64_t* tokens, const std::function<void(int)>& on_grads_done) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  resize(G, K);
  const std::vector<Chunk> cs = chunks(batch, micro);
  const bool single = cs.size() == 1;
  // Micro-batch c of rank r has index r * chunks + c: its index in one process.
  const uint32_t micro0 = static_cast<uint32_t>(rank()) * static_cast<uint32_t>(cs.size());
  int64_t n_tokens = 0;
  for (size_t c = 0; c < cs.size(); ++c) {  // phase 1
    dropout.micro = micro0 + static_cast<uint32_t>(c);
    forward(cs[c], dropout, single);
    scatter(cs[c]);
    n_tokens += cs[c].batch.tokens();
  }
  const LossStats stats = loss(batch, loss_cfg, true);
  std::fill(grad_block, grad_block + model_.layout.total, 0.0f);
  for (size_t c = 0; c < cs.size(); ++c) {  // phase 2
    const Chunk& ch = cs[c];
    dropout.micro = micro0 + static_cast<uint32_t>(c);
    if (!single) forward(ch, dropout, true);
    const int64_t nseq = ch.batch.nseq();
    dout_.resize(static_cast<size_t>(nseq * H_));
    for (int64_t s = 0; s < nseq; ++s) {
      const Dest& d = ch.dest[static_cast<size_t>(s)];
      std::copy_n(row(d.kind, d.row, true), H_, dout_.data() + s * H_);
    }
    dhidden_.resize(static_cast<size_t>(ch.batch.tokens() * H_));
    pooling_backward(ctx_, head_cfg_, ch.batch, pool_, dout_.data(), dhidden_.data());
    // Only the last micro-batch completes a layer's gradients.
    encoder_backward(ctx_, model_.config, model_.view, ch.batch, cache_, dropout, dhidden_.data(),
                     grads, c + 1 == cs.size() ? on_grads_done : std::function<void(int)>());
  }
  if (tokens) *tokens = n_tokens;
  return stats;
}

LossStats GradCache::loss_only(const TrainBatch& batch, size_t micro, const LossConfig& loss_cfg) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  resize(G, K);
  for (const Chunk& c : chunks(batch, micro)) {
    forward(c, DropoutState{}, false);
    scatter(c);
  }
  return loss(batch, loss_cfg, false);
}

}  // namespace sbert
