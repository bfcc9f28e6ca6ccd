// The mixed-precision variants (trainer.precision bf16-mixed, 16-mixed) of cuda/kernels.h's
// fp32 ops: fp32 tensors in and out, as the fp32 ops, with the products on bf16 (or fp16) tensor
// cores. Each activation operand is rounded to bf16 (fp16) into the Runtime's workspace, or in
// bf16 read from the caller's kept copy or rounded into it (args.h: inp16, keep16; nn/encoder.h's
// bf16 activations); in bf16-mixed a weight is read from the bf16 copy of the parameter block
// (below) when one is bound. cuBLASLt then multiplies bf16 x bf16 (fp16 x fp16) with fp32 accumulation and an fp32
// result (GEMMs), or the bf16 FlashAttention kernels run (cuda/attention_bf16.h; 16-mixed keeps
// the fp32 attention kernel). In bf16-mixed the FFN's GELU is cuBLASLt's tanh form, fused into
// the GEMMs' epilogues (Megatron / NeMo's bias_gelu_fusion uses the same approximation); fp32
// and 16-mixed keep the exact erf GELU. LayerNorm, dropout, the softmax statistics, the loss
// and AdamW stay fp32, on fp32 master weights. Same rules as cuda/kernels.h (device pointers,
// host sizes, the Runtime's stream); the workspace grows to the largest operand once.
#pragma once

#include <cstdint>

#include "cuda/runtime.h"
#include "ops/args.h"

namespace sbert::cuda {

// ---- convert.cu: twins of cpu/convert.h (the same bits) -------------------------------------
void to_bf16(uint16_t* out, const float* in, int64_t n, Runtime& rt);
void from_bf16(float* out, const uint16_t* in, int64_t n, Runtime& rt);
void to_f16(uint16_t* out, const float* in, int64_t n, Runtime& rt);  // IEEE half, subnormals
void from_f16(float* out, const uint16_t* in, int64_t n, Runtime& rt);

// The bf16 copy of the parameter block: bind_bf16_weights allocates a copy of block[0, count)
// (device, fp32); from then on every bf16 GEMM whose weight lies inside the block reads the
// copy at the same offset instead of rounding the weight at each use. refresh_bf16_weights
// rounds the whole block in one launch; it must follow every change of the block (AdamW's step,
// an upload, a load or resume) and precede the first GEMM (a GEMM on a bound copy never
// refreshed throws). Binding again replaces the copy; a null block unbinds.
void bind_bf16_weights(const float* block, int64_t count, Runtime& rt);
void refresh_bf16_weights(Runtime& rt);
// How many times rt's bf16 GEMMs rounded a weight at the call instead of reading the copy
// (tests: a training step with the copy bound rounds none).
int64_t bf16_weight_casts(Runtime& rt);

// ---- gelu.cu: the tanh GELU of bf16-mixed (cuBLASLt's) ---------------------------------------
// gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); dinp may alias dout. The fused
// epilogues compute the same function; these run where an epilogue cannot (alignment, aux ld).
void gelu_tanh_forward(float* out, const float* inp, int64_t n, Runtime& rt);
void gelu_tanh_backward(float* dinp, const float* inp, const float* dout, int64_t n, Runtime& rt);

// ---- matmul.cu --------------------------------------------------------------------------------
// matmul_forward / matmul_backward's contracts with bf16 operands (dweight still accumulates
// in fp32; dbias accumulates the fp32 column sums of the bf16 dout, from the dweight GEMM's
// BGRADB epilogue, or of dout itself when there is no dweight GEMM).
void matmul_forward_bf16(const MatmulForwardArgs<float>& args, Runtime& rt);
void matmul_backward_bf16(const MatmulBackwardArgs<float>& args, Runtime& rt);
// The same with fp16 operands (16-mixed): an operand beyond fp16's range becomes inf, which the
// trainer's loss scaling detects in the gradient norm.
void matmul_forward_fp16(const MatmulForwardArgs<float>& args, Runtime& rt);
void matmul_backward_fp16(const MatmulBackwardArgs<float>& args, Runtime& rt);
// out = gelu_tanh(inp . weight^T + bias) in one GEMM (GELU_AUX_BIAS: pre (rows, n), the GELU's
// input, written too; GELU_BIAS when pre is null). bias must not be null.
void matmul_gelu_forward_bf16(const MatmulGeluForwardArgs<float>& args, Runtime& rt);
// Backward of out = gelu_tanh(pre) . weight^T + bias, act = gelu_tanh(pre) (rows, k): dpre
// (rows, k) = (dout . weight) * gelu_tanh'(pre) written in one GEMM (DGELU_BGRAD), dpre_sum (k)
// accumulates the column sums of dpre (the bias gradient of the layer that produced pre; may be
// null), dweight (n, k) and dbias (n) accumulate (may be null).
void gelu_matmul_backward_bf16(const GeluMatmulBackwardArgs<float>& args, Runtime& rt);
// Grows the Runtime's workspace slots and scratch to what matmul_*_bf16 / _fp16 (and the fused
// GELU GEMMs) use for these sizes, so that a step of the trainer's memory plan allocates nothing.
void reserve_matmul_mixed(int64_t rows, int64_t k, int64_t n, Runtime& rt);
// ---- attention_mixed.cu -----------------------------------------------------------------------
// The workspace of attention_forward_mixed / attention_backward_mixed over `tokens` tokens.
void reserve_attention_mixed(int64_t tokens, int64_t heads, int64_t head_dim, Runtime& rt);
// attention_forward / attention_backward's contracts through the bf16 kernels; args.dims (tokens
// = cu_seqlens[nseq] and the longest sequence) are the host values the casts and the grid need.
void attention_forward_mixed(const AttentionForwardArgs<float>& args, Runtime& rt);
void attention_backward_mixed(const AttentionBackwardArgs<float>& args, Runtime& rt);
// The bf16 operands of both bf16 attention backends (ours and cuDNN's), for tokens = args.dims.
// Forward: qkv rounded into args.keep_qkv16 (else workspace slot 0) and the bf16 output's place,
// args.out16 (else slot 1); attention_forward_widen then writes args.out from it unless out is
// null. Backward: qkv and out as the forward kept them (args.qkv16, args.out16) or rounded into
// slots 0 and 1, dout rounded into slot 2, and dqkv's bf16 place, slot 3.
struct AttentionForwardBf16 {
  const uint16_t* qkv;
  uint16_t* out;
};
struct AttentionBackwardBf16 {
  const uint16_t* qkv;
  const uint16_t* out;
  const uint16_t* dout;
  uint16_t* dqkv;
};
AttentionForwardBf16 attention_forward_operands(const AttentionForwardArgs<float>& args,
                                                Runtime& rt);
void attention_forward_widen(const AttentionForwardArgs<float>& args, const uint16_t* out,
                             Runtime& rt);
AttentionBackwardBf16 attention_backward_operands(const AttentionBackwardArgs<float>& args,
                                                  Runtime& rt);

// ---- attention_cudnn.cu: model.attention_backend cudnn ---------------------------------------
// attention_forward_mixed / attention_backward_mixed's contracts (fp32 in and out, bf16 inside,
// workspace slots 0-3 as theirs, so reserve_attention_mixed covers the casts) through cuDNN's
// fused SDPA. Refuses dropout p > 0 (cuDNN cannot draw our masks) and head dims cuDNN lacks.
// Builds without cuDNN (CPU, the emulator, CUDA without cuDNN) throw kNoCudnn.
inline constexpr const char* kNoCudnn =
    "[attention] model.attention_backend cudnn needs cuDNN on a CUDA GPU (this build has none)";
bool cudnn_attention_built();  // whether this build has the cuDNN backend
void attention_forward_cudnn(const AttentionForwardArgs<float>& args, Runtime& rt);
void attention_backward_cudnn(const AttentionBackwardArgs<float>& args, Runtime& rt);

}  // namespace sbert::cuda
