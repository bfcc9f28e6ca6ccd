#include "nn/encoder.h"

#include "core/check.h"
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

namespace {
void size_to(std::vector<float>& v, int64_t n) { v.resize(static_cast<size_t>(n)); }

void check_batch(const ModelConfig& cfg, const PackedBatch& batch) {
  for (int64_t s = 0; s < batch.nseq(); ++s) {
    const int64_t len = batch.cu_seqlens[s + 1] - batch.cu_seqlens[s];
    SBERT_CHECK(len <= cfg.max_position_embeddings, "[encoder] sequence ", s, " has ", len,
                " tokens but the model has ", cfg.max_position_embeddings, " positions");
  }
  for (int32_t id : batch.ids) {
    SBERT_CHECK(id >= 0 && id < cfg.vocab_size, "[encoder] token id ", id,
                " is outside the vocabulary (", cfg.vocab_size, ")");
  }
}
}  // namespace

void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const PackedBatch& batch, EncoderCache& cache,
                     const std::function<void(int, const float*)>& on_layer) {
  check_batch(cfg, batch);
  const int64_t T = batch.tokens(), H = cfg.hidden_size, I = cfg.intermediate_size;
  const int64_t heads = cfg.num_heads, D = cfg.head_dim(), nseq = batch.nseq();
  const int64_t* cu = batch.cu_seqlens.data();
  const float eps = cfg.layer_norm_eps;

  size_to(cache.emb_sum, T * H);
  size_to(cache.emb_mean, T);
  size_to(cache.emb_rstd, T);
  size_to(cache.emb_out, T * H);
  size_to(cache.scratch, T * H);
  cache.layers.resize(cache.keep_all ? static_cast<size_t>(cfg.num_layers) : 1);

  ops::embedding_forward(ctx, cache.emb_sum.data(), batch.ids.data(), cu, nseq, w.word_emb,
                         w.pos_emb, w.type_emb, H);
  ops::layernorm_forward(ctx, cache.emb_out.data(), nullptr, cache.emb_mean.data(),
                         cache.emb_rstd.data(), cache.emb_sum.data(), nullptr, w.emb_ln_w,
                         w.emb_ln_b, T, H, eps);
  if (on_layer) on_layer(0, cache.emb_out.data());

  const float* x = cache.emb_out.data();  // (T, H) input of the current layer
  for (int l = 0; l < cfg.num_layers; ++l) {
    LayerCache& c = cache.layers[cache.keep_all ? static_cast<size_t>(l) : 0];
    const BertLayerView& p = w.layers[static_cast<size_t>(l)];
    size_to(c.qkv, T * 3 * H);
    size_to(c.att, T * H);
    size_to(c.lse, heads * T);
    size_to(c.res1, T * H);
    size_to(c.mean1, T);
    size_to(c.rstd1, T);
    size_to(c.h1, T * H);
    size_to(c.ffn_pre, T * I);
    size_to(c.ffn_act, T * I);
    size_to(c.res2, T * H);
    size_to(c.mean2, T);
    size_to(c.rstd2, T);
    size_to(c.out, T * H);

    ops::matmul_forward(ctx, c.qkv.data(), x, p.qkv_w, p.qkv_b, T, H, 3 * H);
    ops::attention_forward(ctx, c.att.data(), c.lse.data(), c.qkv.data(), cu, nseq, heads, D);
    ops::matmul_forward(ctx, cache.scratch.data(), c.att.data(), p.attn_out_w, p.attn_out_b, T,
                        H, H);
    ops::layernorm_forward(ctx, c.h1.data(), c.res1.data(), c.mean1.data(), c.rstd1.data(),
                           cache.scratch.data(), x, p.ln1_w, p.ln1_b, T, H, eps);
    ops::matmul_forward(ctx, c.ffn_pre.data(), c.h1.data(), p.ffn_in_w, p.ffn_in_b, T, H, I);
    ops::gelu_forward(ctx, c.ffn_act.data(), c.ffn_pre.data(), T * I);
    ops::matmul_forward(ctx, cache.scratch.data(), c.ffn_act.data(), p.ffn_out_w, p.ffn_out_b,
                        T, I, H);
    ops::layernorm_forward(ctx, c.out.data(), c.res2.data(), c.mean2.data(), c.rstd2.data(),
                           cache.scratch.data(), c.h1.data(), p.ln2_w, p.ln2_b, T, H, eps);
    x = c.out.data();
    if (on_layer) on_layer(l + 1, x);
  }
  cache.output = x;
}

}  // namespace sbert
