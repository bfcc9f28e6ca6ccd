// CPU kernels, one pair of free functions per op: name_forward / name_backward, each taking
// its argument struct (ops/args.h: the shapes and which pointers may be null). Field order:
// outputs, saved-for-backward, inputs, parameters, sizes.
//
// THE GRADIENT RULE, everywhere in cpu/ and cuda/: gradients of PARAMETERS are accumulated
// (+=), gradients of ACTIVATIONS are written (=). Callers zero parameter gradients once per
// optimizer step; micro-batches and GradCache chunks then simply add up. Where an activation
// feeds two consumers (a residual branch), the backward kernel that needs their sum takes both
// gradients (dout, dout2) and adds them itself.
//
// Scalar type: every kernel exists for float (the library's compute type) and double (the
// finite-difference gradient tests). fp32 kernels keep row statistics (LayerNorm, L2 norm, bias
// and LayerNorm parameter gradients) in double.
//
// Packed sequences: a batch is one token stream of T = cu_seqlens[nseq] tokens; sequence s is
// rows [cu_seqlens[s], cu_seqlens[s+1]). No padding anywhere.
//
// Determinism: for a fixed thread count every kernel returns bitwise the same result run to
// run (no atomics; reductions over rows run in row order inside one thread per column).
//
// Kernels parallelise with OpenMP over rows, heads or sequences; GEMMs go to OpenBLAS.
#pragma once

#include <cstdint>

#include "ops/args.h"

namespace sbert::cpu {

// matmul.cpp (the GELU fused into the GEMM's store in float), layernorm.cpp, gelu.cpp (exact
// erf GELU), dropout.cpp, attention.cpp, embedding.cpp, pooling.cpp (mean and CLS pooling,
// L2 normalisation). gelu_matmul_backward has no CPU kernel of its own: ops/ composes it.
#define SBERT_CPU_OP(op, Args)      \
  void op(const Args<float>& args); \
  void op(const Args<double>& args);
SBERT_CPU_OP(matmul_forward, MatmulForwardArgs)
SBERT_CPU_OP(matmul_gelu_forward, MatmulGeluForwardArgs)
SBERT_CPU_OP(matmul_backward, MatmulBackwardArgs)
SBERT_CPU_OP(layernorm_forward, LayerNormForwardArgs)
SBERT_CPU_OP(layernorm_backward, LayerNormBackwardArgs)
SBERT_CPU_OP(gelu_forward, GeluForwardArgs)
SBERT_CPU_OP(gelu_backward, GeluBackwardArgs)
SBERT_CPU_OP(dropout_forward, DropoutForwardArgs)
SBERT_CPU_OP(dropout_backward, DropoutBackwardArgs)
SBERT_CPU_OP(attention_forward, AttentionForwardArgs)
SBERT_CPU_OP(attention_backward, AttentionBackwardArgs)
SBERT_CPU_OP(embedding_forward, EmbeddingForwardArgs)
SBERT_CPU_OP(embedding_backward, EmbeddingBackwardArgs)
SBERT_CPU_OP(mean_pool_forward, PoolForwardArgs)
SBERT_CPU_OP(mean_pool_backward, PoolBackwardArgs)
SBERT_CPU_OP(cls_pool_forward, PoolForwardArgs)
SBERT_CPU_OP(cls_pool_backward, PoolBackwardArgs)
SBERT_CPU_OP(l2norm_forward, L2NormForwardArgs)
SBERT_CPU_OP(l2norm_backward, L2NormBackwardArgs)
#undef SBERT_CPU_OP

}  // namespace sbert::cpu
