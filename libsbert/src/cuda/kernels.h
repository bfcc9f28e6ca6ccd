// CUDA kernels, the twins of cpu/kernels.h: same names, the same argument structs (ops/args.h),
// same shapes and the same rules (read cpu/kernels.h first: THE GRADIENT RULE, packed
// sequences), plus:
//
// - Every pointer is a DEVICE pointer, cu_seqlens and ids included; sizes are host values.
//   Kernels that need T = cu_seqlens[nseq] or a sequence length read them on the device, so
//   nothing is copied back to the host and nothing synchronizes.
// - The argument after the struct is the Runtime: kernels are queued on rt.stream(), GEMMs go
// through its
//   cuBLASLt plans. Calls return before the work is done (rt.synchronize() waits).
// - fp32 here (the parity mode, precision 32); bf16 variants come next (the tensor-core
//   attention is in cuda/attention_bf16.h). There is no fp64.
// - Determinism: no floating-point atomics anywhere. Every reduction (column sums of
//   parameter gradients, embedding rows hit by several tokens, attention dK/dV) runs in a
//   fixed order, so a run is bitwise reproducible on one GPU model. Where the CPU's order is
//   cheap to follow (embedding backward, pooling, dropout, AdamW) the GPU follows it exactly
//   and gives the CPU's bits.
// - No allocation: kernels use their arguments and shared memory only (the gradient-norm
//   reduction in train_kernels.h uses the Runtime's scratch block, sized once).
#pragma once

#include <cstdint>

#include "cuda/runtime.h"
#include "ops/args.h"

namespace sbert::cuda {

// matmul.cu: cuBLASLt (fp32 compute, no TF32). layernorm.cu. gelu.cu. dropout.cu: the CPU's
// masks bit for bit (cuda/philox.cuh). attention.cu: fused, tiled, online softmax, nothing
// (len, len) in global memory, head_dim up to 128 (kernels specialised for <= 32, <= 64,
// <= 128). embedding.cu. pooling.cu. matmul_gelu_forward and gelu_matmul_backward have fp32
// CUDA kernels only through ops/ (GEMM + GELU); their fused forms are cuda/mixed.h's.
#define SBERT_CUDA_OP(op, Args) void op(const Args<float>& args, Runtime& rt);
SBERT_CUDA_OP(matmul_forward, MatmulForwardArgs)
SBERT_CUDA_OP(matmul_backward, MatmulBackwardArgs)
SBERT_CUDA_OP(layernorm_forward, LayerNormForwardArgs)
SBERT_CUDA_OP(layernorm_backward, LayerNormBackwardArgs)
SBERT_CUDA_OP(gelu_forward, GeluForwardArgs)
SBERT_CUDA_OP(gelu_backward, GeluBackwardArgs)
SBERT_CUDA_OP(dropout_forward, DropoutForwardArgs)
SBERT_CUDA_OP(dropout_backward, DropoutBackwardArgs)
SBERT_CUDA_OP(attention_forward, AttentionForwardArgs)
SBERT_CUDA_OP(attention_backward, AttentionBackwardArgs)
SBERT_CUDA_OP(embedding_forward, EmbeddingForwardArgs)
SBERT_CUDA_OP(embedding_backward, EmbeddingBackwardArgs)
SBERT_CUDA_OP(mean_pool_forward, PoolForwardArgs)
SBERT_CUDA_OP(mean_pool_backward, PoolBackwardArgs)
SBERT_CUDA_OP(cls_pool_forward, PoolForwardArgs)
SBERT_CUDA_OP(cls_pool_backward, PoolBackwardArgs)
SBERT_CUDA_OP(l2norm_forward, L2NormForwardArgs)
SBERT_CUDA_OP(l2norm_backward, L2NormBackwardArgs)
#undef SBERT_CUDA_OP

}  // namespace sbert::cuda
