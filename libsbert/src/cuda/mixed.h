// The mixed-precision variants (trainer.precision bf16-mixed, 16-mixed) of cuda/kernels.h's
// fp32 ops: fp32 tensors in and out, as the fp32 ops, with the products on bf16 (or fp16) tensor
// cores. Each operand is rounded to bf16 (fp16) into the Runtime's workspace, then cuBLASLt
// multiplies bf16 x bf16 (fp16 x fp16) with fp32 accumulation and an fp32 result (GEMMs), or
// the bf16 FlashAttention kernels run (cuda/attention_bf16.h; 16-mixed keeps the fp32 attention
// kernel). LayerNorm, GELU, dropout, the softmax statistics, the loss and AdamW stay fp32, on
// fp32 master weights. Same rules as cuda/kernels.h (device pointers, host sizes, the Runtime's
// stream); the workspace grows to the largest operand once.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

// ---- convert.cu: twins of cpu/convert.h (the same bits) -------------------------------------
void to_bf16(uint16_t* out, const float* in, int64_t n, Runtime& rt);
void from_bf16(float* out, const uint16_t* in, int64_t n, Runtime& rt);
void to_f16(uint16_t* out, const float* in, int64_t n, Runtime& rt);  // IEEE half, subnormals
void from_f16(float* out, const uint16_t* in, int64_t n, Runtime& rt);

// ---- matmul.cu --------------------------------------------------------------------------------
// matmul_forward / matmul_backward's contracts with bf16 operands (dweight still accumulates
// in fp32, dbias is the fp32 column sum of dout).
void matmul_forward_bf16(float* out, const float* inp, const float* weight, const float* bias,
                         int64_t rows, int64_t k, int64_t n, Runtime& rt);
void matmul_backward_bf16(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int64_t rows, int64_t k,
                          int64_t n, Runtime& rt);
// The same with fp16 operands (16-mixed): an operand beyond fp16's range becomes inf, which the
// trainer's loss scaling detects in the gradient norm.
void matmul_forward_fp16(float* out, const float* inp, const float* weight, const float* bias,
                         int64_t rows, int64_t k, int64_t n, Runtime& rt);
void matmul_backward_fp16(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int64_t rows, int64_t k,
                          int64_t n, Runtime& rt);
// ---- attention_mixed.cu -----------------------------------------------------------------------
// attention_forward / attention_backward's contracts through the bf16 kernels; tokens =
// cu_seqlens[nseq] and max_seqlen (the longest sequence) are host values the casts and the grid
// need.
void attention_forward_mixed(float* out, float* lse, const float* qkv, const int64_t* cu_seqlens,
                             int64_t nseq, int64_t tokens, int64_t max_seqlen, int64_t heads,
                             int64_t head_dim, const DropoutSpec& dropout, Runtime& rt);
void attention_backward_mixed(float* dqkv, const float* dout, const float* qkv, const float* out,
                              const float* lse, const int64_t* cu_seqlens, int64_t nseq,
                              int64_t tokens, int64_t max_seqlen, int64_t heads, int64_t head_dim,
                              const DropoutSpec& dropout, Runtime& rt);

}  // namespace sbert::cuda
