// BertEncoder on a packed token stream: embeddings -> N post-LN layers -> (T, H) hidden states.
// The same encoder runs RoBERTa and XLM-RoBERTa: they differ from BERT only in where positions
// start (position_ids below), in one token type and in their LayerNorm eps (ModelConfig).
// forward() fills an explicit EncoderCache; backward() reads it. Its buffers live on the
// Context's device (core/buffer.h) and grow, never shrink: after the largest batch, a step
// allocates nothing. On CUDA the weights are device pointers, and only the batch's token ids,
// positions and offsets are copied in (the PackedBatch itself stays on the host).
//
// Templates on the scalar type T, instantiated for float (the library) and double (the fp64
// finite-difference tests; CPU only). EncoderCache / LayerCache name the float versions.
//
// Dropout (training only, core/rng.h) as Hugging Face BertModel: on the embeddings output
// (after LayerNorm), on the attention probabilities, and on the attention and FFN output
// projections before their residual adds; p = cfg.hidden_dropout / cfg.attention_dropout.
// Masks are regenerated in backward from the same DropoutState, never stored.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "core/buffer.h"
#include "core/context.h"
#include "core/rng.h"
#include "cpu/gemm_bf16x3.h"
#include "cpu/qgemm.h"
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

// pos (T): each token's row of the position table. BERT: 0, 1, ... in every sequence.
// RoBERTa / XLM-RoBERTa: transformers' create_position_ids_from_input_ids, pad_token_id + the
// number of non-pad tokens up to and including this one, and pad_token_id for a pad token (a
// literal "<pad>" in the text: it neither advances the count nor gets its own position).
// Throws when a sequence needs a position beyond the table.
void position_ids(const ModelConfig& cfg, const PackedBatch& batch, std::vector<int32_t>& pos);

// How the forward keeps the inputs of its GEMMs and attention (ops::bf16_activations,
// ops::bf16_attention_io). In bf16-mixed on CUDA the GEMMs read bf16 operands, so each layer
// keeps the bf16 rounding of its GEMM inputs (inp16, h1_16, act16) and not their fp32 values,
// which live in one shared set (EncoderCacheT::work) while a layer runs; when attention runs a
// bf16 kernel too, qkv and the attention output are kept in bf16 only (qkv16, att16). The
// backward reads the same bf16 values it would have rounded, so the numbers do not change. The
// saving per token: (6H + I) x 2 bytes a layer with bf16 attention (31% of what a layer keeps),
// (2H + I) x 2 without, less the shared set, (5H + I) x 4 (or (2H + I) x 4) once. All encoder
// buffers of a MiniLM training step: 19% less; BERT-large: 28%.
struct ActivationPrecision {
  bool gemm_bf16 = false;       // GEMM inputs kept as bf16
  bool attention_bf16 = false;  // qkv and the attention output kept as bf16 (implies gemm_bf16)
  bool operator==(const ActivationPrecision&) const = default;
};
ActivationPrecision activation_precision(const Context& ctx, const ModelConfig& cfg);

// What one layer saves for backward. Shapes for T tokens, hidden H, intermediate I. With bf16
// activations (above) the buffers marked * are empty here and live in EncoderCacheT::work, and
// those marked bf16 are filled instead.
template <class T>
struct LayerCacheT {
  Buffer<T> qkv;           // (T, 3H) *: empty with bf16 attention
  Buffer<T> att;           // (T, H) attention output, before the output projection; ditto
  Buffer<T> lse;           // (heads, T)
  Buffer<T> res1;          // (T, H) input + dropout(attention projection) (LN 1 input)
  Buffer<T> mean1, rstd1;  // (T)
  Buffer<T> h1;            // (T, H) LayerNorm 1 output *
  Buffer<T> ffn_pre;       // (T, I) before GELU
  Buffer<T> ffn_act;       // (T, I) after GELU *
  Buffer<T> res2;          // (T, H) h1 + dropout(FFN output) (LayerNorm 2 input)
  Buffer<T> mean2, rstd2;  // (T)
  Buffer<T> out;           // (T, H) layer output *
  // bf16 bits (cuda/mixed.h's to_bf16: as the GEMMs read them)
  Buffer<uint16_t> inp16;  // (T, H) the layer input (the QKV projection's input)
  Buffer<uint16_t> qkv16;  // (T, 3H) with bf16 attention
  Buffer<uint16_t> att16;  // (T, H) with bf16 attention: its output, the projection's input
  Buffer<uint16_t> h1_16;  // (T, H)
  Buffer<uint16_t> act16;  // (T, I)
};

// Work buffers of encoder_backward (allocated by the first backward, then reused).
template <class T>
struct EncoderGradScratch {
  Buffer<T> dx;     // (T, H) gradient of a layer input through its QKV projection
  Buffer<T> dres1;  // (T, H) gradient of LayerNorm 1's input (= of the residual branch)
  Buffer<T> dres2;  // (T, H) gradient of LayerNorm 2's input
  Buffer<T> dproj;  // (T, H) gradient of an output projection (before dropout)
  Buffer<T> dh;     // (T, H) gradient of h1 (FFN input) / of the attention output
  Buffer<T> dffn;   // (T, I) gradient of the FFN pre-activation (before GELU)
  Buffer<T> dqkv;   // (T, 3H)
};

template <class T>
struct EncoderCacheT {
  bool keep_all = false;         // true: one LayerCache per layer (training); false: reuse one
  DropoutState dropout;          // the state of the forward that filled the cache
  std::vector<int32_t> pos_ids;  // (T) position_ids() of the batch (host)
  // Device copies of the batch's ids, pos_ids (T) and cu_seqlens (nseq + 1) when the ops run on
  // a device (core/buffer.h, stage()); unused on the CPU, where the ops read the host vectors.
  Buffer<int32_t> ids_staged, pos_staged;
  Buffer<int64_t> cu_staged;
  Buffer<T> emb_sum;             // (T, H) word + position + type, before LayerNorm
  Buffer<T> emb_mean, emb_rstd;  // (T)
  Buffer<T> emb_out;             // (T, H) dropout(LayerNorm(emb_sum)): the input of layer 0
  std::vector<LayerCacheT<T>> layers;
  ActivationPrecision acts;    // how the last forward kept its activations
  LayerCacheT<T> work;         // with bf16 activations: the fp32 qkv, h1, ffn_act, out of the layer
                               // running (out: also the final hidden states)
  Buffer<T> scratch;           // (T, H) projection outputs before the residual add
  const T* output = nullptr;   // (T, H) final hidden states (into a cache buffer, on its device)
  EncoderGradScratch<T> grad;  // backward work buffers
  cpu::QScratch qscratch;      // int8 activations of the int8 forward
  cpu::SplitScratch x3scratch;  // split activations of the bf16x3 forward
};

using LayerCache = LayerCacheT<float>;
using EncoderCache = EncoderCacheT<float>;

template <class T>
using LayerCallback = std::type_identity_t<std::function<void(int, const T*)>>;

// Runs the encoder (no dropout). on_layer(l, hidden) is called after the embeddings (l = 0)
// and after each layer l = 1..N with that layer's (T, H) output, when given.
template <class T>
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                     const PackedBatch& batch, EncoderCacheT<T>& cache,
                     const LayerCallback<T>& on_layer = {});
// The same with dropout when dropout.training (recorded in cache.dropout for backward).
template <class T>
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                     const PackedBatch& batch, EncoderCacheT<T>& cache, const DropoutState& dropout,
                     const LayerCallback<T>& on_layer = {});

// The offsets of the batch cache's last forward ran on, where the ops read them: the device copy
// the forward staged (pooling reads it instead of copying them in again), null on the CPU.
template <class T>
const int64_t* staged_cu_seqlens(const Context& ctx, const EncoderCacheT<T>& cache) {
  return ctx.device == Device::CPU ? nullptr : cache.cu_staged.data();
}

// Sizes every buffer a forward of up to `tokens` tokens in `nseq` sequences uses (with
// cache.keep_all as set; and the backward's work buffers when `backward`), so that the passes
// of a run whose batches stay within that bound allocate nothing: the trainer plans its device
// memory once, before the first step, for the largest batch its data can make.
template <class T>
void encoder_reserve(const Context& ctx, const ModelConfig& cfg, int64_t tokens, int64_t nseq,
                     bool backward, EncoderCacheT<T>& cache);
// The bytes encoder_reserve would allocate into an empty cache, allocating nothing.
template <class T>
size_t encoder_reserve_bytes(const ModelConfig& cfg, int64_t tokens, int64_t nseq, bool backward,
                             bool keep_all, ActivationPrecision acts = {});

struct QuantizedBert;
// The int8 inference forward (nn/quantize.h): the four linear layers of every layer run on q's
// int8 weights, everything else as encoder_forward on w. No dropout, CPU only.
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const QuantizedBert& q, const PackedBatch& batch, EncoderCache& cache,
                     const LayerCallback<float>& on_layer = {});
struct SplitBert;
// The bf16x3 inference forward (MatmulPrecision::High): the four linear layers of every layer
// run on s's split weights (cpu/gemm_bf16x3.h), everything else as encoder_forward on w (the
// fp32 model s was split from). No dropout, CPU only.
void encoder_forward(const Context& ctx, const ModelConfig& cfg, const BertView& w,
                     const SplitBert& s, const PackedBatch& batch, EncoderCache& cache,
                     const LayerCallback<float>& on_layer = {});

// Backward of encoder_forward: from dhidden (T, H), the gradient of cache.output, to the
// parameter gradients, ACCUMULATED (+=, THE GRADIENT RULE) into grad, a view of a block with
// the same ParamLayout as the weights. The cache must come from encoder_forward with
// keep_all = true on the same batch and weights, and dropout must equal the forward's state
// (the masks are regenerated from it). Deterministic: for a fixed thread count the gradients
// are bitwise the same run to run. on_grads_done(l), when given, is called once layer l's
// parameter gradients are complete (l = N-1 .. 0, then -1 for the embeddings): data
// parallelism starts their all-reduce while the layers below are computed (dist/grad_reducer.h).
template <class T>
void encoder_backward(const Context& ctx, const ModelConfig& cfg, const BertViewT<T>& w,
                      const PackedBatch& batch, EncoderCacheT<T>& cache,
                      const DropoutState& dropout, const T* dhidden, const BertViewT<T>& grad,
                      const std::function<void(int)>& on_grads_done = {});

}  // namespace sbert
