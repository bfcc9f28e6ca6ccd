// One argument struct per op: the op's signature, written once. ops:: (with the Context
// first), cpu:: and cuda:: (with the Runtime last), the mixed-precision variants (cuda/mixed.h)
// and the stubs all take these, so an op gains or changes an argument here and nowhere else.
// Call sites name what they pass:
//   ops::matmul_forward(ctx, {.out = y, .inp = x, .weight = w, .bias = b, .rows = T, .k = C, .n = N});
// A pointer left out is null; the comments say which may be.
//
// Shapes and rules (THE GRADIENT RULE, packed sequences, determinism): cpu/kernels.h. T is the
// scalar type: float on every backend, double on the CPU (the finite-difference tests).
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace sbert {

// ---- matmul: out = inp . weight^T + bias (nn.Linear) ------------------------------------------
// out (rows, n), inp (rows, k), weight (n, k), bias (n) or null.
template <class T>
struct MatmulForwardArgs {
  T* out = nullptr;
  const T* inp = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;
  int64_t rows = 0, k = 0, n = 0;
  // bf16-mixed on CUDA only (cuda/mixed.h; every other kernel ignores them, and the dispatch
  // refuses a null inp there): inp16 (rows, k) is inp already rounded to bf16, read instead of
  // rounding inp, which may then be null; keep16 (rows, k) receives the rounding of inp, kept
  // for the backward to read as its inp16 (nn/encoder.h: bf16 activations).
  const uint16_t* inp16 = nullptr;
  uint16_t* keep16 = nullptr;
};
// out = gelu(inp . weight^T + bias); pre (rows, n) receives the sum before GELU when not null
// (the backward needs it).
template <class T>
struct MatmulGeluForwardArgs {
  T* out = nullptr;
  T* pre = nullptr;
  const T* inp = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;
  int64_t rows = 0, k = 0, n = 0;
  const uint16_t* inp16 = nullptr;  // as MatmulForwardArgs'
  uint16_t* keep16 = nullptr;
};
// dinp (rows, k) written (may be null); dweight (n, k) and dbias (n) accumulated (may be null).
template <class T>
struct MatmulBackwardArgs {
  T* dinp = nullptr;
  T* dweight = nullptr;
  T* dbias = nullptr;
  const T* dout = nullptr;
  const T* inp = nullptr;
  const T* weight = nullptr;
  int64_t rows = 0, k = 0, n = 0;
  // bf16-mixed on CUDA only: inp rounded to bf16 (the forward's keep16), read instead of
  // rounding inp, which may then be null.
  const uint16_t* inp16 = nullptr;
};
// The backward of out = gelu(pre) . weight^T + bias with act = gelu(pre) (rows, k) the GEMM's
// input: dpre (rows, k) written; dpre_sum (k) accumulates dpre's column sums (the bias gradient
// of the layer that produced pre; may be null); dweight (n, k), dbias (n) accumulated (may be
// null).
template <class T>
struct GeluMatmulBackwardArgs {
  T* dpre = nullptr;
  T* dpre_sum = nullptr;
  T* dweight = nullptr;
  T* dbias = nullptr;
  const T* dout = nullptr;
  const T* act = nullptr;
  const T* pre = nullptr;
  const T* weight = nullptr;
  int64_t rows = 0, k = 0, n = 0;
  const uint16_t* act16 = nullptr;  // bf16-mixed on CUDA only: act rounded, as inp16 above
};

// ---- layernorm -----------------------------------------------------------------------------
// out = LN(a + b) with weight/bias over the last dim C. b may be null (plain LayerNorm).
// sum (rows, C) receives a + b when not null (the residual stream, needed by backward when
// b is not null; with b null, backward reads inp = a). mean, rstd (rows) may be null.
template <class T>
struct LayerNormForwardArgs {
  T* out = nullptr;
  T* sum = nullptr;
  T* mean = nullptr;
  T* rstd = nullptr;
  const T* a = nullptr;
  const T* b = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;
  int64_t rows = 0, C = 0;
  float eps = 0;
};
// dinp (rows, C) written; dweight, dbias (C) accumulated. The output's gradient is
// dout + dout2 (dout2 may be null: the output has one consumer). inp is the LayerNorm input
// (the `sum` saved by forward when it had a residual). The gradient of a and of b both
// equal dinp.
template <class T>
struct LayerNormBackwardArgs {
  T* dinp = nullptr;
  T* dweight = nullptr;
  T* dbias = nullptr;
  const T* dout = nullptr;
  const T* dout2 = nullptr;
  const T* inp = nullptr;
  const T* weight = nullptr;
  const T* mean = nullptr;
  const T* rstd = nullptr;
  int64_t rows = 0, C = 0;
};

// ---- gelu: exact erf GELU over n elements --------------------------------------------------
template <class T>
struct GeluForwardArgs {
  T* out = nullptr;
  const T* inp = nullptr;
  int64_t n = 0;
};
// dinp may alias dout.
template <class T>
struct GeluBackwardArgs {
  T* dinp = nullptr;
  const T* inp = nullptr;
  const T* dout = nullptr;
  int64_t n = 0;
};

// ---- dropout: inverted dropout, the mask regenerated from the spec (core/rng.h) --------------
// out = inp * mask / (1 - p), element e of the (n) tensor using the spec's element index e.
// out may alias inp. An inactive spec copies.
template <class T>
struct DropoutForwardArgs {
  T* out = nullptr;
  const T* inp = nullptr;
  int64_t n = 0;
  DropoutSpec spec = {};
};
// dinp = (dout + dout2) * mask / (1 - p); dout2 may be null; dinp may alias dout.
template <class T>
struct DropoutBackwardArgs {
  T* dinp = nullptr;
  const T* dout = nullptr;
  const T* dout2 = nullptr;
  int64_t n = 0;
  DropoutSpec spec = {};
};

// ---- attention: dropout(softmax(Q K^T * scale)) V per sequence and head ----------------------
// Host-side facts of a packed batch that the mixed-precision attention needs to size its casts
// and grid (the fp32 kernels read what they need from cu_seqlens on the device):
// cu_seqlens[nseq] and the longest sequence. Ignored by the fp32 kernels.
struct BatchDims {
  int64_t tokens = 0;
  int64_t max_seqlen = 0;
};
// qkv (T, 3*H) holds [Q | K | V], head h at columns h*D..h*D+D of each third (H = heads*D,
// D = head_dim). out (T, H); lse (heads, T) the log-sum-exp of each score row, saved for
// backward (may be null). Dropout on the probabilities: element index
// (h * T + query token) * T + key token, with token indices in the packed stream.
template <class T>
struct AttentionForwardArgs {
  T* out = nullptr;
  T* lse = nullptr;
  const T* qkv = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0, heads = 0, head_dim = 0;
  DropoutSpec dropout = {};
  BatchDims dims = {};
  // The bf16 kernels of bf16-mixed on CUDA only (cuda/mixed.h; the dispatch refuses them
  // elsewhere): keep_qkv16 (T, 3H) receives qkv rounded to bf16, for the backward; out16 (T, H)
  // receives the bf16 output, and out (fp32) may then be null.
  uint16_t* keep_qkv16 = nullptr;
  uint16_t* out16 = nullptr;
};
// dqkv (T, 3*H) written. Recomputes the probabilities from qkv and lse and the dropout mask
// from the spec (flash-style): nothing of size (len, len) is saved.
template <class T>
struct AttentionBackwardArgs {
  T* dqkv = nullptr;
  const T* dout = nullptr;
  const T* qkv = nullptr;
  const T* out = nullptr;
  const T* lse = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0, heads = 0, head_dim = 0;
  DropoutSpec dropout = {};
  BatchDims dims = {};
  // bf16 kernels only: the forward's keep_qkv16 and out16, read instead of rounding qkv and out
  // (which may then be null).
  const uint16_t* qkv16 = nullptr;
  const uint16_t* out16 = nullptr;
};

// ---- embedding: word + position + token type ------------------------------------------------
// out (T, C); ids (T); pos_ids (T): each token's row of pos (nn/encoder.h position_ids);
// token type 0.
template <class T>
struct EmbeddingForwardArgs {
  T* out = nullptr;
  const int32_t* ids = nullptr;
  const int32_t* pos_ids = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0;
  const T* word = nullptr;
  const T* pos = nullptr;
  const T* type = nullptr;
  int64_t C = 0;
};
// dword (V, C), dpos (P, C), dtype (types, C) accumulated, deterministically (no atomics).
// Tokens equal to pad_id add nothing to dword, and tokens at position pos_pad nothing to dpos
// (nn.Embedding(padding_idx=pad_token_id) in Hugging Face: that row never receives a gradient;
// RoBERTa's position table has one too); pad_id / pos_pad < 0: none skipped.
template <class T>
struct EmbeddingBackwardArgs {
  T* dword = nullptr;
  T* dpos = nullptr;
  T* dtype = nullptr;
  const T* dout = nullptr;
  const int32_t* ids = nullptr;
  const int32_t* pos_ids = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0, C = 0;
  int32_t pad_id = -1, pos_pad = -1;
};

// ---- pooling: mean over each sequence's tokens, or its first token ([CLS]) -------------------
// out (nseq, C), inp (T, C). Every sequence must have at least one token.
template <class T>
struct PoolForwardArgs {
  T* out = nullptr;
  const T* inp = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0, C = 0;
};
// dinp (T, C) written (for CLS pooling zero except at each sequence's first token).
template <class T>
struct PoolBackwardArgs {
  T* dinp = nullptr;
  const T* dout = nullptr;
  const int64_t* cu_seqlens = nullptr;
  int64_t nseq = 0, C = 0;
};

// ---- l2norm: out = inp / max(||inp||, 1e-12) per row (torch.nn.functional.normalize) ---------
// out, inp (rows, C); norm (rows) saved (the clamped value).
template <class T>
struct L2NormForwardArgs {
  T* out = nullptr;
  T* norm = nullptr;
  const T* inp = nullptr;
  int64_t rows = 0, C = 0;
};
// dinp (rows, C) written.
template <class T>
struct L2NormBackwardArgs {
  T* dinp = nullptr;
  const T* dout = nullptr;
  const T* out = nullptr;
  const T* norm = nullptr;
  int64_t rows = 0, C = 0;
};

// Every op and its struct, for the places that declare or define all of them at once (ops.h,
// the fp64 dispatch, the stubs): X(op, Args).
#define SBERT_FOR_EACH_OP(X)                         \
  X(matmul_forward, MatmulForwardArgs)               \
  X(matmul_gelu_forward, MatmulGeluForwardArgs)      \
  X(matmul_backward, MatmulBackwardArgs)             \
  X(gelu_matmul_backward, GeluMatmulBackwardArgs)    \
  X(layernorm_forward, LayerNormForwardArgs)         \
  X(layernorm_backward, LayerNormBackwardArgs)       \
  X(gelu_forward, GeluForwardArgs)                   \
  X(gelu_backward, GeluBackwardArgs)                 \
  X(dropout_forward, DropoutForwardArgs)             \
  X(dropout_backward, DropoutBackwardArgs)           \
  X(attention_forward, AttentionForwardArgs)         \
  X(attention_backward, AttentionBackwardArgs)       \
  X(embedding_forward, EmbeddingForwardArgs)         \
  X(embedding_backward, EmbeddingBackwardArgs)       \
  X(mean_pool_forward, PoolForwardArgs)              \
  X(mean_pool_backward, PoolBackwardArgs)            \
  X(cls_pool_forward, PoolForwardArgs)               \
  X(cls_pool_backward, PoolBackwardArgs)             \
  X(l2norm_forward, L2NormForwardArgs)               \
  X(l2norm_backward, L2NormBackwardArgs)

}  // namespace sbert
