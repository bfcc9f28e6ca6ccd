#include "train/grad_cache.h"

#include <algorithm>

#include "core/check.h"
#include "dist/communicator.h"
#include "ops/ops.h"
#include "train/grad_norm.h"

namespace sbert {

GradCache::GradCache(const Context& ctx, const Model::Impl& model, DataParallel dp)
    : ctx_(ctx),
      model_(model),
      view_(model.view),
      head_cfg_(model.config),
      H_(model.config.hidden_size),
      par_(dp) {
  head_cfg_.normalize = true;
  SBERT_CHECK(par_.loss_blocks >= 1, "[grad_cache] loss_blocks must be >= 1, got ",
              par_.loss_blocks);
}

namespace {

LossInputs<float> with_guide(LossInputs<float> in, const float* gq, const float* gp,
                             const float* gn, int64_t GH) {
  in.gq = gq;
  in.gp = gp;
  in.gn = gn;
  in.GH = GH;
  return in;
}

}  // namespace

void GradCache::set_guide(const Model::Impl* guide, GuideRetokenize retok) {
  SBERT_CHECK(!guide || ctx_.device == Device::CPU,
              "[grad_cache] a guide model (gist) runs on the CPU only for now: train with "
              "trainer.accelerator=cpu");
  guide_ = guide;
  retok_ = retok;
  SBERT_CHECK((retok.from == nullptr) == (retok.to == nullptr),
              "[grad_cache] set_guide: re-tokenizing needs both tokenizers");
}

void GradCache::set_head(const ObjectiveConfig& cfg) {
  head_cfg_.normalize = cfg.unit_inputs() || model_.config.normalize;
}

bool GradCache::device_loss(const ObjectiveConfig& cfg) const {
  // The other objectives have no device kernels yet, and loss_blocks > 1 (one process standing
  // in for ranks, the tests' reference) splits the rows on the host: host path. W > 1 ranks
  // gather on the device (NCCL: the trainer refuses a GPU run whose bulk memory is the host's).
  return ctx_.device == Device::CUDA && cfg.unit_inputs() && par_.loss_blocks == 1 &&
         guide_ == nullptr;
}

const int64_t* GradCache::stage_rows(const Chunk& c) {
  rows_host_.resize(c.dest.size());
  const int64_t NK0 = 2 * G_;  // first hard-negative row
  for (size_t s = 0; s < c.dest.size(); ++s) {
    const Dest& d = c.dest[s];
    rows_host_[s] = d.kind == 0 ? d.row : d.kind == 1 ? G_ + d.row : NK0 + d.row;
  }
  return stage(ctx_, rows_dev_, rows_host_);
}

size_t GradCache::reserve_loss_bytes(const ObjectiveConfig& cfg, int64_t G, int64_t K,
                                     int64_t micro) const {
  if (!device_loss(cfg)) return 0;
  const auto rows = static_cast<size_t>(2 * G + G * K);
  size_t bytes = 2 * rows * static_cast<size_t>(H_) * sizeof(float) + static_cast<size_t>(G * K) +
                 static_cast<size_t>(micro * (2 + K)) * sizeof(int64_t);
  const int64_t W = world();
  if (W > 1 && par_.global_negatives) {
    bytes += 2 * rows * static_cast<size_t>(W * H_) * sizeof(float) +
             static_cast<size_t>(W * G * K) + rows * sizeof(int64_t);
    return bytes + contrastive_loss_reserve_bytes(ctx_, cfg.contrastive, W * G, K, H_);
  }
  return bytes + contrastive_loss_reserve_bytes(ctx_, cfg.contrastive, G, K, H_);
}

void GradCache::reserve_loss(const ObjectiveConfig& cfg, int64_t G, int64_t K, int64_t micro) {
  if (!device_loss(cfg)) return;
  const auto rows = static_cast<size_t>(2 * G + G * K);
  emb_.resize(ctx_, rows * static_cast<size_t>(H_));
  demb_.resize(ctx_, rows * static_cast<size_t>(H_));
  mask_dev_.resize(ctx_, static_cast<size_t>(G * K));
  rows_dev_.resize(ctx_, static_cast<size_t>(micro * (2 + K)));
  const int64_t W = world();
  if (W > 1 && par_.global_negatives) {
    gemb_.resize(ctx_, rows * static_cast<size_t>(W * H_));
    gdemb_.resize(ctx_, rows * static_cast<size_t>(W * H_));
    gmask_dev_.resize(ctx_, static_cast<size_t>(W * G * K));
    mine_dev_.resize(ctx_, rows);
    reserve_contrastive_loss(ctx_, cfg.contrastive, W * G, K, H_);
  } else {
    reserve_contrastive_loss(ctx_, cfg.contrastive, G, K, H_);
  }
}

int GradCache::world() const { return par_.comm ? par_.comm->size() : 1; }
int GradCache::rank() const { return par_.comm ? par_.comm->rank() : 0; }

LossStats GradCache::loss(const TrainBatch& batch, const ObjectiveConfig& cfg, bool grads) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  const int W = world();
  const int64_t GH = guide_ ? guide_->config.hidden_size : 0;
  // Off the device path the embeddings are host rows (scatter): the loss runs on the CPU.
  const Context loss_ctx{Device::CPU, ctx_.threads};
  SBERT_CHECK(!cfg.needs_guide() || guide_, "[grad_cache] ", objective_name(cfg),
              " needs a guide model (model.gist_guide_model)");
  const bool has_scores = batch.scores.size() == static_cast<size_t>(G);
  const bool has_margins = batch.margins.size() == static_cast<size_t>(G * K);
  if (device_loss_) return device_loss_step(batch, cfg, grads);
  if (W > 1 && par_.global_negatives) {
    // Every rank computes the loss of the whole global batch on the gathered embeddings (the
    // same numbers everywhere) and keeps the gradient rows of its own queries and passages.
    const int64_t GW = G * W;
    for (auto* v : {&gq_, &gp_}) v->resize(static_cast<size_t>(GW * H_));
    gn_.resize(static_cast<size_t>(GW * K * H_));
    gmask_.resize(static_cast<size_t>(GW * K));
    const size_t row_bytes = static_cast<size_t>(H_) * sizeof(float);
    // Everything gathered here is host memory (scatter brings the rows to the host): the bulk
    // all-gather where the communicator's bulk memory is the host's (MPI), the host one where
    // it is a GPU's (NCCL, training on the GPU).
    const bool bulk_on_host = par_.comm->bulk_device() == Device::CPU;
    auto gather_bytes = [&](const void* send, size_t bytes, void* recv) {
      if (bulk_on_host)
        par_.comm->all_gather(send, bytes, recv);
      else
        par_.comm->host_all_gather(send, bytes, recv);
    };
    gather_bytes(q_.data(), static_cast<size_t>(G) * row_bytes, gq_.data());
    gather_bytes(p_.data(), static_cast<size_t>(G) * row_bytes, gp_.data());
    if (K > 0) {
      gather_bytes(n_.data(), static_cast<size_t>(G * K) * row_bytes, gn_.data());
      gather_bytes(batch.negative_mask.data(), static_cast<size_t>(G * K), gmask_.data());
    }
    // What the new objectives read besides the embeddings: labels (host collectives) and the
    // guide's embeddings (as the embeddings).
    auto gather = [&](const auto& mine, auto& all, int64_t count, bool host) {
      all.resize(static_cast<size_t>(count * W));
      const size_t bytes = static_cast<size_t>(count) * sizeof(mine[0]);
      if (host)
        par_.comm->host_all_gather(mine.data(), bytes, all.data());
      else
        gather_bytes(mine.data(), bytes, all.data());
    };
    if (has_scores) gather(batch.scores, gscores_, G, true);
    if (has_margins && K > 0) gather(batch.margins, gmargins_, G * K, true);
    if (guide_) {
      gather(guide_q_, gguide_q_, G * GH, false);
      gather(guide_p_, gguide_p_, G * GH, false);
      if (K > 0) gather(guide_n_, gguide_n_, G * K * GH, false);
    }
    if (grads) {
      for (auto* v : {&gdq_, &gdp_}) v->resize(static_cast<size_t>(GW * H_));
      gdn_.resize(static_cast<size_t>(GW * K * H_));
    }
    LossInputs<float> in{gq_.data(), gp_.data(), gn_.data(), gmask_.data(), GW, K, H_};
    in.scores = has_scores ? gscores_.data() : nullptr;
    in.margins = has_margins && K > 0 ? gmargins_.data() : nullptr;
    if (guide_) in = with_guide(in, gguide_q_.data(), gguide_p_.data(), gguide_n_.data(), GH);
    LossGrads<float> out;
    if (grads) out = {gdq_.data(), gdp_.data(), gdn_.data()};
    const LossStats stats = objective_loss(loss_ctx, cfg, in, out);
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
  auto block_loss = [&](int64_t b, int64_t Gb) {
    const int64_t q0 = b * Gb * H_, n0 = b * Gb * K * H_, g0 = b * Gb * GH;
    LossInputs<float> in{q_.data() + q0,
                         p_.data() + q0,
                         n_.data() + n0,
                         batch.negative_mask.data() + b * Gb * K,
                         Gb,
                         K,
                         H_};
    in.scores = has_scores ? batch.scores.data() + b * Gb : nullptr;
    in.margins = has_margins && K > 0 ? batch.margins.data() + b * Gb * K : nullptr;
    if (guide_) {
      in = with_guide(in, guide_q_.data() + g0, guide_p_.data() + g0,
                      guide_n_.data() + b * Gb * K * GH, GH);
    }
    LossGrads<float> out;
    if (grads) out = {dq_.data() + q0, dp_.data() + q0, dn_.data() + n0};
    return objective_loss(loss_ctx, cfg, in, out);
  };
  if (blocks == 1 && W == 1) return block_loss(0, G);
  SBERT_CHECK(G % blocks == 0, "[grad_cache] ", G, " rows do not split into ", blocks,
              " loss blocks");
  const int64_t Gb = G / blocks;
  std::vector<LossStats> per_block;
  for (int64_t b = 0; b < blocks; ++b) per_block.push_back(block_loss(b, Gb));
  const double parts = static_cast<double>(blocks) * W;
  if (grads && parts > 1) {
    const float scale = static_cast<float>(1.0 / parts);
    for (auto* v : {&dq_, &dp_, &dn_}) {
      for (float& x : *v) x *= scale;
    }
  }
  return mean_over_ranks(per_block, parts);
}

LossStats GradCache::mean_over_ranks(const std::vector<LossStats>& blocks, double parts) {
  // Sums over blocks: loss, accuracy, pos, in-batch neg, hard neg x count, hard-negative count
  double sums[6] = {0, 0, 0, 0, 0, 0};
  for (const LossStats& s : blocks) {
    sums[0] += s.loss;
    sums[1] += s.accuracy;
    sums[2] += s.pos_score;
    sums[3] += s.inbatch_neg_score;
    sums[4] += s.hard_neg_score * static_cast<double>(s.hard_negatives);
    sums[5] += static_cast<double>(s.hard_negatives);
  }
  if (world() > 1) par_.comm->host_all_reduce_sum(sums, 6);
  LossStats out;
  out.loss = sums[0] / parts;
  out.accuracy = sums[1] / parts;
  out.pos_score = sums[2] / parts;
  out.inbatch_neg_score = sums[3] / parts;
  out.hard_neg_score = sums[5] > 0 ? sums[4] / sums[5] : 0.0;
  out.hard_negatives = static_cast<int64_t>(sums[5]);
  return out;
}

LossStats GradCache::device_loss_step(const TrainBatch& batch, const ObjectiveConfig& cfg,
                                      bool grads) {
  // Everything in device memory; only the statistics come back.
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  const int64_t W = world();
  float* e = emb_.data();
  float* d = demb_.data();
  const uint8_t* mask = K > 0 ? stage(ctx_, mask_dev_, batch.negative_mask) : nullptr;
  if (W == 1 || !par_.global_negatives) {
    const LossInputs<float> in{e, e + G * H_, e + 2 * G * H_, mask, G, K, H_};
    LossGrads<float> out;
    if (grads) out = {d, d + G * H_, d + 2 * G * H_};
    const LossStats local = objective_loss(ctx_, cfg, in, out);
    if (W == 1) return local;
    // The mean of the W rank losses: this rank's gradient / W, the statistics averaged.
    if (grads) scale_grads(ctx_, d, (2 * G + G * K) * H_, static_cast<float>(1.0 / W));
    return mean_over_ranks({local}, static_cast<double>(W));
  }
  // The host path's global_negatives on the device: every rank's rows gathered (NCCL, in rank
  // order), the loss of the whole global batch, this rank's gradient rows kept.
  const int64_t GW = G * W, rows = 2 * G + G * K;
  gemb_.resize(ctx_, static_cast<size_t>(W * rows * H_));
  gmask_dev_.resize(ctx_, static_cast<size_t>(GW * K));
  float* ge = gemb_.data();
  const size_t row_bytes = static_cast<size_t>(H_) * sizeof(float);
  par_.comm->all_gather(e, static_cast<size_t>(G) * row_bytes, ge);
  par_.comm->all_gather(e + G * H_, static_cast<size_t>(G) * row_bytes, ge + GW * H_);
  if (K > 0) {
    par_.comm->all_gather(e + 2 * G * H_, static_cast<size_t>(G * K) * row_bytes, ge + 2 * GW * H_);
    par_.comm->all_gather(mask, static_cast<size_t>(G * K), gmask_dev_.data());
  }
  const LossInputs<float> in{
      ge, ge + GW * H_, ge + 2 * GW * H_, K > 0 ? gmask_dev_.data() : nullptr, GW, K, H_};
  LossGrads<float> out;
  if (grads) {
    gdemb_.resize(ctx_, static_cast<size_t>(W * rows * H_));
    float* gd = gdemb_.data();
    out = {gd, gd + GW * H_, gd + 2 * GW * H_};
  }
  const LossStats stats = objective_loss(ctx_, cfg, in, out);
  if (grads) {
    const int64_t r = rank();
    mine_host_.resize(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
      mine_host_[static_cast<size_t>(i)] = i < G       ? r * G + i
                                           : i < 2 * G ? GW + r * G + (i - G)
                                                       : 2 * GW + r * G * K + (i - 2 * G);
    }
    ops::gather_rows(ctx_, d, gdemb_.data(), stage(ctx_, mine_dev_, mine_host_), rows, H_);
  }
  return stats;
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
  c.seqs = std::move(seqs);
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
  G_ = G;
  if (device_loss_) {
    const size_t rows = static_cast<size_t>(2 * G + G * K);
    emb_.resize(ctx_, rows * static_cast<size_t>(H_));
    demb_.resize(ctx_, rows * static_cast<size_t>(H_));
    return;
  }
  for (auto* v : {&q_, &p_, &dq_, &dp_}) v->assign(static_cast<size_t>(G * H_), 0.0f);
  for (auto* v : {&n_, &dn_}) v->assign(static_cast<size_t>(G * K * H_), 0.0f);
  if (guide_) {
    const int64_t GH = guide_->config.hidden_size;
    for (auto* v : {&guide_q_, &guide_p_}) v->assign(static_cast<size_t>(G * GH), 0.0f);
    guide_n_.assign(static_cast<size_t>(G * K * GH), 0.0f);
  }
}

namespace {
struct ReserveShape {
  int64_t nseq, tokens;
};
ReserveShape reserve_shape(int64_t rows, int64_t k, int64_t query_len, int64_t passage_len) {
  SBERT_CHECK(rows >= 0 && k >= 0 && query_len >= 0 && passage_len >= 0, "[grad_cache] reserve(",
              rows, " rows, ", k, " negatives, lengths ", query_len, " and ", passage_len, ")");
  return {rows * (2 + k), rows * query_len + rows * (1 + k) * passage_len};
}
}  // namespace

namespace {
// The pooling head with the most buffers: normalised (pooled rows and norms too).
ModelConfig largest_head(ModelConfig cfg) {
  cfg.normalize = true;
  return cfg;
}
}  // namespace

size_t GradCache::reserve_bytes(int64_t rows, int64_t k, int64_t query_len,
                                int64_t passage_len) const {
  const auto [nseq, tokens] = reserve_shape(rows, k, query_len, passage_len);
  // reserve's allocations, counted by the same sizing code: the encoder's caches, pooling's for
  // the largest head, dhidden (T, H) and the staged dout (nseq, H).
  return encoder_reserve_bytes<float>(model_.config, tokens, nseq, true, true,
                                      activation_precision(ctx_, model_.config)) +
         pooling_reserve_bytes<float>(largest_head(model_.config), nseq, true) +
         static_cast<size_t>(tokens * H_ + nseq * H_) * sizeof(float);
}

void GradCache::reserve(int64_t rows, int64_t k, int64_t query_len, int64_t passage_len) {
  const auto [nseq, tokens] = reserve_shape(rows, k, query_len, passage_len);
  cache_.keep_all = true;
  encoder_reserve(ctx_, model_.config, tokens, nseq, true, cache_);
  pooling_reserve(ctx_, largest_head(model_.config), nseq, true, pool_);
  dhidden_.resize(ctx_, static_cast<size_t>(tokens * H_));
  dout_staged_.resize(ctx_, static_cast<size_t>(nseq * H_));
}

float* GradCache::row(uint8_t kind, int64_t r, bool grad) {
  auto& m = kind == 0 ? (grad ? dq_ : q_) : kind == 1 ? (grad ? dp_ : p_) : (grad ? dn_ : n_);
  return m.data() + r * H_;
}

void GradCache::forward(const Chunk& c, const DropoutState& d, bool keep) {
  cache_.keep_all = keep;
  encoder_forward(ctx_, model_.config, view_, c.batch, cache_, d);
  pooling_forward(ctx_, head_cfg_, cache_.output, c.batch, pool_, staged_cu_seqlens(ctx_, cache_));
}

void GradCache::forward_guide(const Chunk& c) {
  if (!guide_) return;
  guide_cache_.keep_all = false;
  const PackedBatch* batch = &c.batch;
  if (retok_.from) {
    // GISTEmbedLoss: guide.preprocess(tokenizer.batch_decode(input_ids, skip_special_tokens=True))
    guide_seqs_.resize(c.seqs.size());
    for (size_t s = 0; s < c.seqs.size(); ++s) {
      guide_seqs_[s] = retok_.to->encode(retok_.from->decode(c.seqs[s]), retok_.max_length);
    }
    guide_batch_ = pack_sequences(guide_seqs_, 0, static_cast<int64_t>(guide_seqs_.size()));
    batch = &guide_batch_;
  }
  encoder_forward(ctx_, guide_->config, guide_->view, *batch, guide_cache_, DropoutState{});
  pooling_forward(ctx_, guide_->config, guide_cache_.output, *batch, guide_pool_);
  const int64_t GH = guide_->config.hidden_size;
  for (size_t s = 0; s < c.dest.size(); ++s) {
    const Dest& d = c.dest[s];
    auto& m = d.kind == 0 ? guide_q_ : d.kind == 1 ? guide_p_ : guide_n_;
    std::copy_n(guide_pool_.out.data() + static_cast<int64_t>(s) * GH, GH, m.data() + d.row * GH);
  }
}

void GradCache::scatter(const Chunk& c) {
  if (device_loss_) {  // device rows into the device matrices
    ops::scatter_rows(ctx_, emb_.data(), pool_.out.data(), stage_rows(c),
                      static_cast<int64_t>(c.dest.size()), H_);
    return;
  }
  const float* out = pool_.out.data();
  if (ctx_.device != Device::CPU) {  // the chunk's embeddings to the host, for the loss
    out_host_.resize(pool_.out.size());
    pool_.out.read(ctx_, out_host_.data());
    out = out_host_.data();
  }
  for (size_t s = 0; s < c.dest.size(); ++s) {
    std::copy_n(out + static_cast<int64_t>(s) * H_, H_, row(c.dest[s].kind, c.dest[s].row, false));
  }
}

LossStats GradCache::gradients(const TrainBatch& batch, size_t micro,
                               const ObjectiveConfig& loss_cfg, DropoutState dropout,
                               const BertView& grads, float* grad_block, int64_t* tokens,
                               const std::function<void(int)>& on_grads_done) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  set_head(loss_cfg);
  device_loss_ = device_loss(loss_cfg);
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
    forward_guide(cs[c]);
    n_tokens += cs[c].batch.tokens();
  }
  const LossStats stats = loss(batch, loss_cfg, true);
  fill_zero(ctx_, grad_block, static_cast<size_t>(model_.layout.total) * sizeof(float));
  for (size_t c = 0; c < cs.size(); ++c) {  // phase 2
    const Chunk& ch = cs[c];
    dropout.micro = micro0 + static_cast<uint32_t>(c);
    if (!single) forward(ch, dropout, true);
    const int64_t nseq = ch.batch.nseq();
    const float* dout = nullptr;  // (nseq, H) the chunk's embedding gradients, on ctx's device
    // 16-mixed: dout x loss scale, the same float products on either path.
    if (device_loss_) {
      dout_staged_.resize(ctx_, static_cast<size_t>(nseq * H_));
      ops::gather_rows(ctx_, dout_staged_.data(), demb_.data(), stage_rows(ch), nseq, H_);
      if (loss_scale_ != 1.0f) scale_grads(ctx_, dout_staged_.data(), nseq * H_, loss_scale_);
      dout = dout_staged_.data();
    } else {
      dout_.resize(static_cast<size_t>(nseq * H_));
      for (int64_t s = 0; s < nseq; ++s) {
        const Dest& d = ch.dest[static_cast<size_t>(s)];
        std::copy_n(row(d.kind, d.row, true), H_, dout_.data() + s * H_);
      }
      if (loss_scale_ != 1.0f) {
        for (float& v : dout_) v *= loss_scale_;
      }
      dout = stage(ctx_, dout_staged_, dout_);
    }
    dhidden_.resize(ctx_, static_cast<size_t>(ch.batch.tokens() * H_));
    pooling_backward(ctx_, head_cfg_, ch.batch, pool_, dout, dhidden_.data());
    // Only the last micro-batch completes a layer's gradients.
    encoder_backward(ctx_, model_.config, view_, ch.batch, cache_, dropout, dhidden_.data(), grads,
                     c + 1 == cs.size() ? on_grads_done : std::function<void(int)>());
  }
  if (tokens) *tokens = n_tokens;
  return stats;
}

LossStats GradCache::loss_only(const TrainBatch& batch, size_t micro,
                               const ObjectiveConfig& loss_cfg) {
  const int64_t G = static_cast<int64_t>(batch.size()), K = batch.num_negatives;
  set_head(loss_cfg);
  device_loss_ = device_loss(loss_cfg);
  resize(G, K);
  for (const Chunk& c : chunks(batch, micro)) {
    forward(c, DropoutState{}, false);
    scatter(c);
    forward_guide(c);
  }
  return loss(batch, loss_cfg, false);
}

}  // namespace sbert
