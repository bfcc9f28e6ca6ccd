#include "nn/encoder.h"

#include <algorithm>

#include "core/check.h"
#include "nn/quantize.h"
#include "ops/ops.h"

namespace sbert {

PackedBatch pack_sequences(const std::vector<std::vector<int32_t>>& seqs, int64_t begin,
                           int64_t end) {
  PackedBatch b;
  b.cu_seqlens.reserve(static_cast<size_t>(end - begin + 1));
  b.cu_seqlens.push_back(0);
  for (int64_t i = begin; i < end; ++i) {
    const auto& s = seqs[static_cast<size_t>(i)];
    b.ids.insert(b.ids.end(), s.begin(), s.end());
    b.cu_seqlens.push_back(static_cast<int64_t>(b.ids.size()));
  }
  return b;
}

void position_ids(const ModelConfig& cfg, const PackedBatch& batch, std::vector<int32_t>& pos) {
  pos.resize(batch.ids.size());
  const bool roberta = cfg.roberta_positions();
  const int32_t pad = cfg.pad_token_id;
  for (int64_t s = 0; s < batch.nseq(); ++s) {
    const int64_t start = batch.cu_seqlens[s], end = batch.cu_seqlens[s + 1];
    int64_t next = cfg.first_position();  // the position of the next (non-pad) token
    for (int64_t t = start; t < end; ++t) {
      if (roberta && batch.ids[static_cast<size_t>(t)] == pad) {
        pos[static_cast<size_t>(t)] = pad;
        continue;
      }
      SBERT_CHECK(next < cfg.max_position_embeddings, "[encoder] sequence ", s, " has ",
                  end - start, " tokens but the model has ", cfg.max_tokens(), " positions",
                  roberta ? cat(" (max_position_embeddings ", cfg.max_position_embeddings,
                                " from pad_token_id + 1 = ", cfg.first_position(), ")")
                          : std::string());
      pos[static_cast<size_t>(t)] = static_cast<int32_t>(next++);
    }
  }
}

namespace {
// Every cache buffer on ctx's device, n elements.
template <class T>
void size_to(const Context& ctx, Buffer<T>& b, int64_t n) {
  b.resize(ctx, static_cast<size_t>(n));
}

// The forward's buffers for T_ tokens: size(buffer, n) for each. The layer caches are only ever
// added: a forward without keep_all (GradCache's phase 1) uses the first and leaves the others
// allocated for the next forward with it (phase 2), so no step frees and reallocates them.
// With bf16 activations the per-layer fp32 GEMM inputs are sized 0 and kept in cache.work.
template <class T, class Size>
void size_forward(const ModelConfig& cfg, EncoderCacheT<T>& cache, int64_t T_, Size&& size) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size, heads = cfg.num_heads;
  const bool half = cache.acts.gemm_bf16, half_attn = cache.acts.attention_bf16;
  size(cache.emb_sum, T_ * H);
  size(cache.emb_mean, T_);
  size(cache.emb_rstd, T_);
  size(cache.emb_out, T_ * H);
  size(cache.scratch, T_ * H);
  const size_t used = cache.keep_all ? static_cast<size_t>(cfg.num_layers) : 1;
  if (cache.layers.size() < used) cache.layers.resize(used);
  const auto when = [](bool kept, int64_t n) { return kept ? n : 0; };  // n, or 0 if not kept
  for (size_t l = 0; l < used; ++l) {
    LayerCacheT<T>& c = cache.layers[l];
    size(c.qkv, when(!half_attn, T_ * 3 * H));
    size(c.att, when(!half_attn, T_ * H));
    size(c.lse, heads * T_);
    size(c.res1, T_ * H);
    size(c.mean1, T_);
    size(c.rstd1, T_);
    size(c.h1, when(!half, T_ * H));
    size(c.ffn_pre, T_ * I);
    size(c.ffn_act, when(!half, T_ * I));
    size(c.res2, T_ * H);
    size(c.mean2, T_);
    size(c.rstd2, T_);
    size(c.out, when(!half, T_ * H));
    size(c.inp16, when(half, T_ * H));
    size(c.qkv16, when(half_attn, T_ * 3 * H));
    size(c.att16, when(half_attn, T_ * H));
    size(c.h1_16, when(half, T_ * H));
    size(c.act16, when(half, T_ * I));
  }
  size(cache.work.qkv, when(half_attn, T_ * 3 * H));
  size(cache.work.h1, when(half, T_ * H));
  size(cache.work.ffn_act, when(half, T_ * I));
  size(cache.work.out, when(half, T_ * H));
}

template <class T, class Size>
void size_backward(const ModelConfig& cfg, EncoderGradScratch<T>& g, int64_t T_, Size&& size) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  size(g.dx, T_ * H);
  size(g.dres1, T_ * H);
  size(g.dres2, T_ * H);
  size(g.dproj, T_ * H);
  size(g.dh, T_ * H);
  size(g.dffn, T_ * I);
  size(g.dqkv, T_ * 3 * H);
}

// size_forward / size_backward's allocating size(): the buffer on ctx's device.
auto allocate(const Context& ctx) {
  return [&ctx](auto& buffer, int64_t n) { size_to(ctx, buffer, n); };
}

BatchDims batch_dims(const PackedBatch& batch) {
  BatchDims d{batch.tokens(), 0};
  for (int64_t s = 0; s < batch.nseq(); ++s) {
    d.max_seqlen = std::max(d.max_seqlen, batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]);
  }
  return d;
}

void check_batch(const ModelConfig& cfg, const PackedBatch& batch) {
  SBERT_CHECK(!batch.cu_seqlens.empty() && batch.cu_seqlens[0] == 0,
              "[encoder] cu_seqlens must start with 0");
  SBERT_CHECK(batch.tokens() == static_cast<int64_t>(batch.ids.size()),
              "[encoder] cu_seqlens ends at ", batch.tokens(), " but the batch has ",
              batch.ids.size(), " token ids");
  for (int64_t s = 0; s < batch.nseq(); ++s) {
    SBERT_CHECK(batch.cu_seqlens[s + 1] >= batch.cu_seqlens[s],
                "[encoder] cu_seqlens decreases at sequence ", s);
  }
  for (int32_t id : batch.ids) {
    SBERT_CHECK(id >= 0 && id < cfg.vocab_size, "[encoder] token id ", id,
                " is outside the vocabulary (", cfg.vocab_size, ")");
  }
}

// The dropout of each site for this pass (all inactive when !state.training).
struct LayerDropout {
  DropoutSpec probs, attn_out, ffn_out;
};
LayerDropout layer_dropout(const ModelConfig& cfg, const DropoutState& state, int layer) {
  return {dropout_spec(state, cfg.attention_dropout, layer, DropoutSite::AttentionProbs),
          dropout_spec(state, cfg.hidden_dropout, layer, DropoutSite::AttentionOutput),
          dropout_spec(state, cfg.hidden_dropout, layer, DropoutSite::FfnOutput)};
}

// The inference form of one linear layer: int8, bf16x3, or neither (the fp32 weight).
struct FastLinear {
  const cpu::QWeight* int8 = nullptr;
  cpu::QIsa isa = cpu::QIsa::Scalar;
  const cpu::SplitWeight* bf16x3 = nullptr;
};

// The int8 or bf16x3 form of a linear layer (then GELU when gelu), when fast has one (float
// only; inference, so no pre-activation is kept). False: the caller's fp32 GEMM must run.
template <class T>
bool fast_linear_forward(const Context& ctx, EncoderCacheT<T>& cache, const FastLinear& fast,
                         T* out, const T* x, const T* bias, int64_t rows, bool gelu) {
  if constexpr (std::is_same_v<T, float>) {
    if (fast.int8) {
      ops::qlinear_forward(ctx, out, x, *fast.int8, bias, rows, cache.qscratch, fast.isa, gelu);
      return true;
    }
    if (fast.bf16x3) {
      ops::bf16x3_linear_forward(ctx, out, x, *fast.bf16x3, bias, rows, cache.x3scratch, gelu);
      return true;
    }
  }
  return false;
}

// One linear layer of the forward: fp32, or int8 / bf16x3 when fast says (float only).
// With bf16 activations x16 is x's bf16 form (x may be null) or keep16 receives it.
template <class T>
void linear_forward(const Context& ctx, EncoderCacheT<T>& cache, const FastLinear& fast, T* out,
                    const T* x, const T* weight, const T* bias, int64_t rows, int64_t k, int64_t n,
                    const uint16_t* x16 = nullptr, uint16_t* keep16 = nullptr) {
  if (fast_linear_forward(ctx, cache, fast, out, x, bias, rows, /*gelu=*/false)) return;
  ops::matmul_forward(ctx, {.out = out,
                            .inp = x,
                            .weight = weight,
                            .bias = bias,
                            .rows = rows,
                            .k = k,
                            .n = n,
                            .inp16 = x16,
                            .keep16 = keep16});
}

// A buffer's data when the mode keeps it, else null.
template <class B>
auto kept(bool keep, B& buffer) -> decltype(buffer.data()) {
  return keep ? buffer.data() : nullptr;
}

// The reduced-precision inference weights a forward runs its linear layers on: none (fp32),
// int8 or bf16x3 (at most one).
struct InferenceWeights {
  const QuantizedBert* int8 = nullptr;
  const SplitBert* bf16x3 = nullptr;
};

template <class T>
void forward_impl(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                  InferenceWeights iw, const PackedBatch& batch, EncoderCacheT<T>& cache,
                  const DropoutState& dropout, const LayerCallback<T>& on_layer);
}  // namespace

void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const QuantizedBert& q, const PackedBatch& batch, EncoderCache& cache,
                     const LayerCallback<float>& on_layer) {
  SBERT_CHECK(static_cast<int>(q.layers.size()) == cfg.num_layers, "[encoder] ", q.layers.size(),
              " int8 layers for a model of ", cfg.num_layers);
  forward_impl(ctx, cfg, w, {.int8 = &q}, batch, cache, DropoutState{}, on_layer);
}

void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const SplitBert& s, const PackedBatch& batch, EncoderCache& cache,
                     const LayerCallback<float>& on_layer) {
  SBERT_CHECK(static_cast<int>(s.layers.size()) == cfg.num_layers, "[encoder] ", s.layers.size(),
              " bf16x3 layers for a model of ", cfg.num_layers);
  forward_impl(ctx, cfg, w, {.bf16x3 = &s}, batch, cache, DropoutState{}, on_layer);
}

template <class T>
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                     const PackedBatch& batch, EncoderCacheT<T>& cache,
                     const LayerCallback<T>& on_layer) {
  encoder_forward(ctx, cfg, w, batch, cache, DropoutState{}, on_layer);
}

template <class T>
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                     const PackedBatch& batch, EncoderCacheT<T>& cache, const DropoutState& dropout,
                     const LayerCallback<T>& on_layer) {
  forward_impl(ctx, cfg, w, {}, batch, cache, dropout, on_layer);
}

namespace {
template <class T>
void forward_impl(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                  InferenceWeights iw, const PackedBatch& batch, EncoderCacheT<T>& cache,
                  const DropoutState& dropout, const LayerCallback<T>& on_layer) {
  const QuantizedBert* q = iw.int8;
  check_batch(cfg, batch);
  position_ids(cfg, batch, cache.pos_ids);
  const int64_t T_ = batch.tokens(), H = cfg.hidden_size, I = cfg.intermediate_size;
  const int64_t heads = cfg.num_heads, D = cfg.head_dim(), nseq = batch.nseq();
  const int32_t* ids = stage(ctx, cache.ids_staged, batch.ids);
  const int32_t* pos = stage(ctx, cache.pos_staged, cache.pos_ids);
  const int64_t* cu = stage(ctx, cache.cu_staged, batch.cu_seqlens);
  const BatchDims dims = batch_dims(batch);
  const float eps = cfg.layer_norm_eps;
  cache.dropout = dropout;
  if constexpr (std::is_same_v<T, float>) {
    cache.acts = q || iw.bf16x3 ? ActivationPrecision{} : activation_precision(ctx, cfg);
  }
  const bool half = cache.acts.gemm_bf16, half_attn = cache.acts.attention_bf16;

  size_forward(cfg, cache, T_, allocate(ctx));

  ops::embedding_forward(ctx, {.out = cache.emb_sum.data(),
                               .ids = ids,
                               .pos_ids = pos,
                               .cu_seqlens = cu,
                               .nseq = nseq,
                               .word = w.word_emb,
                               .pos = w.pos_emb,
                               .type = w.type_emb,
                               .C = H});
  ops::layernorm_forward(ctx, {.out = cache.emb_out.data(),
                               .mean = cache.emb_mean.data(),
                               .rstd = cache.emb_rstd.data(),
                               .a = cache.emb_sum.data(),
                               .weight = w.emb_ln_w,
                               .bias = w.emb_ln_b,
                               .rows = T_,
                               .C = H,
                               .eps = eps});
  ops::dropout_forward(
      ctx, {.out = cache.emb_out.data(),
            .inp = cache.emb_out.data(),
            .n = T_ * H,
            .spec = dropout_spec(dropout, cfg.hidden_dropout, 0, DropoutSite::Embeddings)});
  if (on_layer) on_layer(0, cache.emb_out.data());

  const T* x = cache.emb_out.data();  // (T, H) input of the current layer
  for (int l = 0; l < cfg.num_layers; ++l) {
    LayerCacheT<T>& c = cache.layers[cache.keep_all ? static_cast<size_t>(l) : 0];
    const BertLayerViewT<T>& p = w.layers[static_cast<size_t>(l)];
    const LayerDropout drop = layer_dropout(cfg, dropout, l);
    const QuantizedLayer* ql = q ? &q->layers[static_cast<size_t>(l)] : nullptr;
    const cpu::QIsa isa = q ? q->isa : cpu::QIsa::Scalar;
    const SplitLayer* sl = iw.bf16x3 ? &iw.bf16x3->layers[static_cast<size_t>(l)] : nullptr;
    const auto fast = [&](cpu::QWeight QuantizedLayer::*qw, cpu::SplitWeight SplitLayer::*sw) {
      return FastLinear{ql ? &(ql->*qw) : nullptr, isa, sl ? &(sl->*sw) : nullptr};
    };

    T* proj = cache.scratch.data();
    // The fp32 tensors of this layer: its own cache's, or the shared set with bf16 activations.
    LayerCacheT<T>& f = half ? cache.work : c;
    T* qkv = half_attn ? cache.work.qkv.data() : c.qkv.data();
    linear_forward(ctx, cache, fast(&QuantizedLayer::qkv, &SplitLayer::qkv), qkv, x, p.qkv_w,
                   p.qkv_b, T_, H, 3 * H, nullptr, kept(half, c.inp16));
    ops::attention_forward(ctx, {.out = kept(!half_attn, c.att),
                                 .lse = c.lse.data(),
                                 .qkv = qkv,
                                 .cu_seqlens = cu,
                                 .nseq = nseq,
                                 .heads = heads,
                                 .head_dim = D,
                                 .dropout = drop.probs,
                                 .dims = dims,
                                 .keep_qkv16 = kept(half_attn, c.qkv16),
                                 .out16 = kept(half_attn, c.att16)});
    linear_forward(ctx, cache, fast(&QuantizedLayer::attn_out, &SplitLayer::attn_out), proj,
                   kept(!half_attn, c.att), p.attn_out_w, p.attn_out_b, T_, H, H,
                   kept(half_attn, c.att16));
    ops::dropout_forward(ctx, {.out = proj, .inp = proj, .n = T_ * H, .spec = drop.attn_out});
    ops::layernorm_forward(ctx, {.out = f.h1.data(),
                                 .sum = c.res1.data(),
                                 .mean = c.mean1.data(),
                                 .rstd = c.rstd1.data(),
                                 .a = proj,
                                 .b = x,
                                 .weight = p.ln1_w,
                                 .bias = p.ln1_b,
                                 .rows = T_,
                                 .C = H,
                                 .eps = eps});
    // int8 / bf16x3 apply the GELU to each block of rows while it is in cache.
    if (!fast_linear_forward(ctx, cache, fast(&QuantizedLayer::ffn_in, &SplitLayer::ffn_in),
                             f.ffn_act.data(), f.h1.data(), p.ffn_in_b, T_, /*gelu=*/true)) {
      // GELU fused into the GEMM; the pre-activation is kept only for the backward.
      ops::matmul_gelu_forward(ctx, {.out = f.ffn_act.data(),
                                     .pre = cache.keep_all ? c.ffn_pre.data() : nullptr,
                                     .inp = f.h1.data(),
                                     .weight = p.ffn_in_w,
                                     .bias = p.ffn_in_b,
                                     .rows = T_,
                                     .k = H,
                                     .n = I,
                                     .keep16 = kept(half, c.h1_16)});
    }
    linear_forward(ctx, cache, fast(&QuantizedLayer::ffn_out, &SplitLayer::ffn_out), proj,
                   f.ffn_act.data(), p.ffn_out_w, p.ffn_out_b, T_, I, H, nullptr,
                   kept(half, c.act16));
    ops::dropout_forward(ctx, {.out = proj, .inp = proj, .n = T_ * H, .spec = drop.ffn_out});
    // With bf16 activations out overwrites x (work.out) after its last read, LN 1's residual.
    ops::layernorm_forward(ctx, {.out = f.out.data(),
                                 .sum = c.res2.data(),
                                 .mean = c.mean2.data(),
                                 .rstd = c.rstd2.data(),
                                 .a = proj,
                                 .b = f.h1.data(),
                                 .weight = p.ln2_w,
                                 .bias = p.ln2_b,
                                 .rows = T_,
                                 .C = H,
                                 .eps = eps});
    x = f.out.data();
    if (on_layer) on_layer(l + 1, x);
  }
  cache.output = x;
}
}  // namespace

ActivationPrecision activation_precision(const Context& ctx, const ModelConfig& cfg) {
  ActivationPrecision a;
  a.gemm_bf16 = ops::bf16_activations(ctx);
  a.attention_bf16 = a.gemm_bf16 && ops::bf16_attention_io(ctx, cfg.head_dim());
  return a;
}

template <class T>
void encoder_reserve(const Context& ctx, const ModelConfig& cfg, int64_t tokens, int64_t nseq,
                     bool backward, EncoderCacheT<T>& cache) {
  SBERT_CHECK(tokens >= 0 && nseq >= 0, "[encoder_reserve] ", tokens, " tokens in ", nseq,
              " sequences");
  if constexpr (std::is_same_v<T, float>) cache.acts = activation_precision(ctx, cfg);
  cache.ids_staged.resize(ctx, static_cast<size_t>(tokens));
  cache.pos_staged.resize(ctx, static_cast<size_t>(tokens));
  cache.cu_staged.resize(ctx, static_cast<size_t>(nseq + 1));
  size_forward(cfg, cache, tokens, allocate(ctx));
  if (backward) size_backward(cfg, cache.grad, tokens, allocate(ctx));
  if constexpr (std::is_same_v<T, float>) {  // the ops' own workspaces, for a layer's shapes
    const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
    ops::reserve_matmul(ctx, tokens, H, 3 * H);
    ops::reserve_matmul(ctx, tokens, H, H);
    ops::reserve_matmul(ctx, tokens, H, I);
    ops::reserve_matmul(ctx, tokens, I, H);
    ops::reserve_attention(ctx, tokens, cfg.num_heads, cfg.head_dim());
  }
}

template <class T>
size_t encoder_reserve_bytes(const ModelConfig& cfg, int64_t tokens, int64_t nseq, bool backward,
                             bool keep_all, ActivationPrecision acts) {
  size_t bytes = 0;
  auto count = [&bytes](auto& buffer, int64_t n) {
    bytes += static_cast<size_t>(n) * sizeof(*buffer.data());
  };
  EncoderCacheT<T> cache;  // host-side shells only: count() allocates nothing
  cache.keep_all = keep_all;
  cache.acts = acts;
  size_forward(cfg, cache, tokens, count);
  if (backward) size_backward(cfg, cache.grad, tokens, count);
  return bytes + static_cast<size_t>(2 * tokens) * sizeof(int32_t) +
         static_cast<size_t>(nseq + 1) * sizeof(int64_t);
}

template <class T>
void encoder_backward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                      const PackedBatch& batch, EncoderCacheT<T>& cache,
                      const DropoutState& dropout, const T* dhidden, const BertViewT<T>& grad,
                      const std::function<void(int)>& on_grads_done) {
  const int64_t T_ = batch.tokens(), H = cfg.hidden_size, I = cfg.intermediate_size;
  const int64_t heads = cfg.num_heads, D = cfg.head_dim(), nseq = batch.nseq();
  SBERT_CHECK(cache.keep_all && cache.layers.size() == static_cast<size_t>(cfg.num_layers),
              "[encoder_backward] the cache must come from a forward with keep_all = true (",
              cache.layers.size(), " layer caches for ", cfg.num_layers, " layers)");
  SBERT_CHECK(static_cast<int64_t>(cache.emb_sum.size()) == T_ * H,
              "[encoder_backward] the cache holds ", cache.emb_sum.size() / static_cast<size_t>(H),
              " tokens but the batch has ", T_);
  SBERT_CHECK(cache.pos_ids.size() == batch.ids.size(), "[encoder_backward] the cache holds ",
              cache.pos_ids.size(), " position ids for ", batch.ids.size(), " tokens");
  SBERT_CHECK(cache.dropout == dropout, "[encoder_backward] dropout state (seed ", dropout.seed,
              ", step ", dropout.step, ", training ", dropout.training,
              ") differs from the forward's (seed ", cache.dropout.seed, ", step ",
              cache.dropout.step, ", training ", cache.dropout.training, ")");

  // The forward staged this batch's ids, positions and offsets (the cache is that forward's):
  // on a device they are read from there, not copied in again.
  const bool host = ctx.device == Device::CPU;
  const int32_t* ids = host ? batch.ids.data() : cache.ids_staged.data();
  const int32_t* pos = host ? cache.pos_ids.data() : cache.pos_staged.data();
  const int64_t* cu = host ? batch.cu_seqlens.data() : cache.cu_staged.data();
  SBERT_CHECK(host || cache.cu_staged.size() == batch.cu_seqlens.size(),
              "[encoder_backward] the cache's staged offsets are for ", cache.cu_staged.size() - 1,
              " sequences, the batch has ", batch.nseq());
  const BatchDims dims = batch_dims(batch);
  EncoderGradScratch<T>& g = cache.grad;
  size_backward(cfg, g, T_, allocate(ctx));
  // The GEMMs and attention read the forward's kept activations: bf16 ones when it kept them.
  if constexpr (std::is_same_v<T, float>) {
    SBERT_CHECK(cache.acts == activation_precision(ctx, cfg),
                "[encoder_backward] the cache's forward kept its activations in another precision "
                "(bf16 GEMM inputs ",
                cache.acts.gemm_bf16, ") than this Context's");
  }
  const bool half = cache.acts.gemm_bf16, half_attn = cache.acts.attention_bf16;

  // The gradient of the current layer's output is dA + dB: dA through the next layer's QKV
  // projection (dhidden at the top), dB through the next layer's residual (none at the top).
  const T* dA = dhidden;
  const T* dB = nullptr;
  for (int l = cfg.num_layers - 1; l >= 0; --l) {
    const LayerCacheT<T>& c = cache.layers[static_cast<size_t>(l)];
    const BertLayerViewT<T>& p = w.layers[static_cast<size_t>(l)];
    const BertLayerViewT<T>& gp = grad.layers[static_cast<size_t>(l)];
    const LayerDropout drop = layer_dropout(cfg, dropout, l);
    // The layer's input: the embeddings' or the layer below's output (its bf16 form, c.inp16,
    // with bf16 activations)
    const T* x = half     ? nullptr
                 : l == 0 ? cache.emb_out.data()
                          : cache.layers[static_cast<size_t>(l - 1)].out.data();

    // out = LN2(res2), res2 = h1 + dropout(ffn_act . Wo2^T + bo2)
    ops::layernorm_backward(ctx, {.dinp = g.dres2.data(),
                                  .dweight = gp.ln2_w,
                                  .dbias = gp.ln2_b,
                                  .dout = dA,
                                  .dout2 = dB,
                                  .inp = c.res2.data(),
                                  .weight = p.ln2_w,
                                  .mean = c.mean2.data(),
                                  .rstd = c.rstd2.data(),
                                  .rows = T_,
                                  .C = H});
    ops::dropout_backward(
        ctx, {.dinp = g.dproj.data(), .dout = g.dres2.data(), .n = T_ * H, .spec = drop.ffn_out});
    // ffn_act = gelu(ffn_pre), ffn_pre = h1 . Wi^T + bi: dffn is the gradient of ffn_pre, and
    // bi's gradient (its column sums) comes with it
    ops::gelu_matmul_backward(ctx, {.dpre = g.dffn.data(),
                                    .dpre_sum = gp.ffn_in_b,
                                    .dweight = gp.ffn_out_w,
                                    .dbias = gp.ffn_out_b,
                                    .dout = g.dproj.data(),
                                    .act = kept(!half, c.ffn_act),
                                    .pre = c.ffn_pre.data(),
                                    .weight = p.ffn_out_w,
                                    .rows = T_,
                                    .k = I,
                                    .n = H,
                                    .act16 = kept(half, c.act16)});
    ops::matmul_backward(ctx, {.dinp = g.dh.data(),
                               .dweight = gp.ffn_in_w,
                               .dout = g.dffn.data(),
                               .inp = kept(!half, c.h1),
                               .weight = p.ffn_in_w,
                               .rows = T_,
                               .k = H,
                               .n = I,
                               .inp16 = kept(half, c.h1_16)});
    // h1 = LN1(res1) feeds the FFN (dh) and the residual into res2 (dres2)
    ops::layernorm_backward(ctx, {.dinp = g.dres1.data(),
                                  .dweight = gp.ln1_w,
                                  .dbias = gp.ln1_b,
                                  .dout = g.dh.data(),
                                  .dout2 = g.dres2.data(),
                                  .inp = c.res1.data(),
                                  .weight = p.ln1_w,
                                  .mean = c.mean1.data(),
                                  .rstd = c.rstd1.data(),
                                  .rows = T_,
                                  .C = H});
    // res1 = x + dropout(att . Wo^T + bo)
    ops::dropout_backward(
        ctx, {.dinp = g.dproj.data(), .dout = g.dres1.data(), .n = T_ * H, .spec = drop.attn_out});
    ops::matmul_backward(ctx, {.dinp = g.dh.data(),
                               .dweight = gp.attn_out_w,
                               .dbias = gp.attn_out_b,
                               .dout = g.dproj.data(),
                               .inp = kept(!half_attn, c.att),
                               .weight = p.attn_out_w,
                               .rows = T_,
                               .k = H,
                               .n = H,
                               .inp16 = kept(half_attn, c.att16)});
    // att = attention(qkv), qkv = x . Wqkv^T + bqkv
    ops::attention_backward(ctx, {.dqkv = g.dqkv.data(),
                                  .dout = g.dh.data(),
                                  .qkv = kept(!half_attn, c.qkv),
                                  .out = kept(!half_attn, c.att),
                                  .lse = c.lse.data(),
                                  .cu_seqlens = cu,
                                  .nseq = nseq,
                                  .heads = heads,
                                  .head_dim = D,
                                  .dropout = drop.probs,
                                  .dims = dims,
                                  .qkv16 = kept(half_attn, c.qkv16),
                                  .out16 = kept(half_attn, c.att16)});
    ops::matmul_backward(ctx, {.dinp = g.dx.data(),
                               .dweight = gp.qkv_w,
                               .dbias = gp.qkv_b,
                               .dout = g.dqkv.data(),
                               .inp = x,
                               .weight = p.qkv_w,
                               .rows = T_,
                               .k = H,
                               .n = 3 * H,
                               .inp16 = kept(half, c.inp16)});
    // x feeds the QKV projection (dx) and the residual into res1 (dres1)
    dA = g.dx.data();
    dB = g.dres1.data();
    if (on_grads_done) on_grads_done(l);
  }

  // emb_out = dropout(LN(emb_sum)), emb_sum = word[id] + pos[pos_id] + type[0]
  ops::dropout_backward(
      ctx, {.dinp = g.dres2.data(),
            .dout = dA,
            .dout2 = dB,
            .n = T_ * H,
            .spec = dropout_spec(dropout, cfg.hidden_dropout, 0, DropoutSite::Embeddings)});
  ops::layernorm_backward(ctx, {.dinp = g.dproj.data(),
                                .dweight = grad.emb_ln_w,
                                .dbias = grad.emb_ln_b,
                                .dout = g.dres2.data(),
                                .inp = cache.emb_sum.data(),
                                .weight = w.emb_ln_w,
                                .mean = cache.emb_mean.data(),
                                .rstd = cache.emb_rstd.data(),
                                .rows = T_,
                                .C = H});
  // Both HF tables skip the pad row: word_embeddings(padding_idx = pad_token_id), and RoBERTa's
  // position_embeddings(padding_idx = pad_token_id) too (BERT's has none).
  ops::embedding_backward(ctx, {.dword = grad.word_emb,
                                .dpos = grad.pos_emb,
                                .dtype = grad.type_emb,
                                .dout = g.dproj.data(),
                                .ids = ids,
                                .pos_ids = pos,
                                .cu_seqlens = cu,
                                .nseq = nseq,
                                .C = H,
                                .pad_id = cfg.pad_token_id,
                                .pos_pad = cfg.roberta_positions() ? cfg.pad_token_id : -1});
  if (on_grads_done) on_grads_done(-1);
}

#define SBERT_INSTANTIATE(T)                                                                    \
  template void encoder_forward<T>(const Context&, const ModelConfig&, const BertViewT<T>&,     \
                                   const PackedBatch&, EncoderCacheT<T>&,                       \
                                   const LayerCallback<T>&);                                    \
  template void encoder_forward<T>(const Context&, const ModelConfig&, const BertViewT<T>&,     \
                                   const PackedBatch&, EncoderCacheT<T>&, const DropoutState&,  \
                                   const LayerCallback<T>&);                                    \
  template void encoder_reserve<T>(const Context&, const ModelConfig&, int64_t, int64_t, bool,  \
                                   EncoderCacheT<T>&);                                          \
  template size_t encoder_reserve_bytes<T>(const ModelConfig&, int64_t, int64_t, bool, bool,    \
                                           ActivationPrecision);                                \
  template void encoder_backward<T>(const Context&, const ModelConfig&, const BertViewT<T>&,    \
                                    const PackedBatch&, EncoderCacheT<T>&, const DropoutState&, \
                                    const T*, const BertViewT<T>&,                              \
                                    const std::function<void(int)>&);
SBERT_INSTANTIATE(float)
SBERT_INSTANTIATE(double)
#undef SBERT_INSTANTIATE

}  // namespace sbert
