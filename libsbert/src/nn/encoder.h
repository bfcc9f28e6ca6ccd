// BertEncoder on a packed token stream: embeddings -> N post-LN layers -> (T, H) hidden states.
// forward() fills an explicit EncoderCache; backward (train/) reads it. Buffers are resized,
// not reallocated, across batches: after the largest batch, a step allocates nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/context.h"
#include "nn/bert_params.h"

namespace sbert {

// A batch of tokenized sequences as one unpadded stream.
struct PackedBatch {
  std::vector<int32_t> ids;         // (T)
  std::vector<int64_t> cu_seqlens;  // (nseq + 1)
  int64_t nseq() const { return static_cast<int64_t>(cu_seqlens.size()) - 1; }
  int64_t tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
};

PackedBatch pack_sequences(const std::vector<std::vector<int32_t>>& seqs, int64_t begin,
                           int64_t end);

// What one layer saves for backward. Shapes for T tokens, hidden H, intermediate I.
struct LayerCache {
  std::vector<float> qkv;          // (T, 3H)
  std::vector<float> att;          // (T, H) attention output, before the output projection
  std::vector<float> lse;          // (heads, T)
  std::vector<float> res1;         // (T, H) input + attention projection (LayerNorm 1 input)
  std::vector<float> mean1, rstd1; // (T)
  std::vector<float> h1;           // (T, H) LayerNorm 1 output
  std::vector<float> ffn_pre;      // (T, I) before GELU
  std::vector<float> ffn_act;      // (T, I) after GELU
  std::vector<float> res2;         // (T, H) h1 + FFN output (LayerNorm 2 input)
  std::vector<float> mean2, rstd2; // (T)
  std::vector<float> out;          // (T, H) layer output
};

struct EncoderCache {
  bool keep_all = false;            // true: one LayerCache per layer (training); false: reuse one
  std::vector<float> emb_sum;       // (T, H) word + position + type, before LayerNorm
  std::vector<float> emb_mean, emb_rstd;  // (T)
  std::vector<float> emb_out;       // (T, H)
  std::vector<LayerCache> layers;
  std::vector<float> scratch;       // (T, H) projection outputs before the residual add
  const float* output = nullptr;    // (T, H) final hidden states (points into a cache buffer)
};

// Runs the encoder. on_layer(l, hidden) is called after the embeddings (l = 0) and after each
// layer l = 1..N with that layer's (T, H) output, when given.
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const PackedBatch& batch, EncoderCache& cache,
                     const std::function<void(int, const float*)>& on_layer = {});

}  // namespace sbert
