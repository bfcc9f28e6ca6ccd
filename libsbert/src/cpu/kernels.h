// CPU kernels (fp32), one pair of free functions per op: name_forward / name_backward.
// Argument order: outputs, saved-for-backward, inputs, parameters, sizes.
//
// THE GRADIENT RULE, everywhere in cpu/ and cuda/: gradients of PARAMETERS are accumulated
// (+=), gradients of ACTIVATIONS are written (=). Callers zero parameter gradients once per
// optimizer step; micro-batches and GradCache chunks then simply add up.
//
// Packed sequences: a batch is one token stream of T = cu_seqlens[nseq] tokens; sequence s is
// rows [cu_seqlens[s], cu_seqlens[s+1]). No padding anywhere.
//
// Kernels parallelise with OpenMP over rows, heads or sequences; GEMMs go to OpenBLAS.
#pragma once

#include <cstdint>

namespace sbert::cpu {

// ---- matmul.cpp: out = inp . weight^T + bias (nn.Linear) -----------------------------------
// out (rows, n), inp (rows, k), weight (n, k), bias (n) or null.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t rows, int64_t k, int64_t n);
// dinp (rows, k) written (may be null); dweight (n, k) and dbias (n) accumulated (may be null).
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int64_t rows, int64_t k, int64_t n);

// ---- layernorm.cpp ----------------------------------------------------------------------
// out = LN(a + b) with weight/bias over the last dim C. b may be null (plain LayerNorm).
// sum (rows, C) receives a + b when not null (the residual stream, needed by backward when
// b is not null; with b null, backward reads inp = a). mean, rstd (rows) may be null.
void layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* a,
                       const float* b, const float* weight, const float* bias, int64_t rows,
                       int64_t C, float eps);
// dinp (rows, C) written; dweight, dbias (C) accumulated. inp is the LayerNorm input
// (the `sum` saved by forward when it had a residual).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean,
                        const float* rstd, int64_t rows, int64_t C);

// ---- gelu.cpp: exact erf GELU ---------------------------------------------------------------
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);

// ---- attention.cpp: softmax(Q K^T * scale) V per sequence and head ---------------------------
// qkv (T, 3*H) holds [Q | K | V], head h at columns h*D..h*D+D of each third (H = heads*D).
// out (T, H); lse (heads, T) the log-sum-exp of each score row, saved for backward (may be null).
void attention_forward(float* out, float* lse, const float* qkv, const int64_t* cu_seqlens,
                       int64_t nseq, int64_t heads, int64_t head_dim);
// dqkv (T, 3*H) written. Recomputes the probabilities from qkv and lse (flash-style).
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t heads, int64_t head_dim);

// ---- embedding.cpp: word + position + token type ---------------------------------------------
// out (T, C); ids (T); positions restart at 0 for every sequence; token type 0.
void embedding_forward(float* out, const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq,
                       const float* word, const float* pos, const float* type, int64_t C);
// dword (V, C), dpos (P, C), dtype (2, C) accumulated, deterministically (no atomics).
void embedding_backward(float* dword, float* dpos, float* dtype, const float* dout,
                        const int32_t* ids, const int64_t* cu_seqlens, int64_t nseq, int64_t C);

// ---- pooling.cpp ---------------------------------------------------------------------------
// out (nseq, C): mean over each sequence's tokens ([CLS] and [SEP] included) or its first token.
void mean_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C);
void mean_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t C);
void cls_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                      int64_t C);
void cls_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C);
// out = inp / max(||inp||, 1e-12) per row (torch.nn.functional.normalize); norm (rows) saved.
void l2norm_forward(float* out, float* norm, const float* inp, int64_t rows, int64_t C);
void l2norm_backward(float* dinp, const float* dout, const float* out, const float* norm,
                     int64_t rows, int64_t C);

}  // namespace sbert::cpu
