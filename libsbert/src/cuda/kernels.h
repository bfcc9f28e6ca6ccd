// CUDA kernels, the twins of cpu/kernels.h: same names, same argument order, same shapes and
// the same rules (read cpu/kernels.h first: THE GRADIENT RULE, packed sequences), plus:
//
// - Every pointer is a DEVICE pointer, cu_seqlens and ids included; sizes are host values.
//   Kernels that need T = cu_seqlens[nseq] or a sequence length read them on the device, so
//   nothing is copied back to the host and nothing synchronizes.
// - The last argument is the Runtime: kernels are queued on rt.stream(), GEMMs go through its
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

#include "core/rng.h"
#include "cuda/runtime.h"

namespace sbert::cuda {

// ---- matmul.cu: out = inp . weight^T + bias through cuBLASLt (fp32 compute, no TF32) --------
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int64_t rows, int64_t k, int64_t n, Runtime& rt);
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t rows, int64_t k, int64_t n, Runtime& rt);

// ---- layernorm.cu ---------------------------------------------------------------------------
void layernorm_forward(float* out, float* sum, float* mean, float* rstd, const float* a,
                       const float* b, const float* weight, const float* bias, int64_t rows,
                       int64_t C, float eps, Runtime& rt);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* dout2, const float* inp, const float* weight,
                        const float* mean, const float* rstd, int64_t rows, int64_t C, Runtime& rt);

// ---- gelu.cu ----------------------------------------------------------------------------------
void gelu_forward(float* out, const float* inp, int64_t n, Runtime& rt);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, Runtime& rt);

// ---- dropout.cu: the CPU's masks bit for bit (cuda/philox.cuh) ------------------------------
void dropout_forward(float* out, const float* inp, int64_t n, const DropoutSpec& spec, Runtime& rt);
void dropout_backward(float* dinp, const float* dout, const float* dout2, int64_t n,
                      const DropoutSpec& spec, Runtime& rt);

// ---- attention.cu: fused, tiled, online softmax; nothing (len, len) in global memory --------
// head_dim up to 128 (kernels specialised for <= 32, <= 64, <= 128).
void attention_forward(float* out, float* lse, const float* qkv, const int64_t* cu_seqlens,
                       int64_t nseq, int64_t heads, int64_t head_dim, const DropoutSpec& dropout,
                       Runtime& rt);
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, const int64_t* cu_seqlens, int64_t nseq, int64_t heads,
                        int64_t head_dim, const DropoutSpec& dropout, Runtime& rt);

// ---- embedding.cu -------------------------------------------------------------------------
void embedding_forward(float* out, const int32_t* ids, const int32_t* pos_ids,
                       const int64_t* cu_seqlens, int64_t nseq, const float* word, const float* pos,
                       const float* type, int64_t C, Runtime& rt);
void embedding_backward(float* dword, float* dpos, float* dtype, const float* dout,
                        const int32_t* ids, const int32_t* pos_ids, const int64_t* cu_seqlens,
                        int64_t nseq, int64_t C, int32_t pad_id, int32_t pos_pad, Runtime& rt);

// ---- pooling.cu ---------------------------------------------------------------------------
void mean_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C, Runtime& rt);
void mean_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                        int64_t C, Runtime& rt);
void cls_pool_forward(float* out, const float* inp, const int64_t* cu_seqlens, int64_t nseq,
                      int64_t C, Runtime& rt);
void cls_pool_backward(float* dinp, const float* dout, const int64_t* cu_seqlens, int64_t nseq,
                       int64_t C, Runtime& rt);
void l2norm_forward(float* out, float* norm, const float* inp, int64_t rows, int64_t C,
                    Runtime& rt);
void l2norm_backward(float* dinp, const float* dout, const float* out, const float* norm,
                     int64_t rows, int64_t C, Runtime& rt);

}  // namespace sbert::cuda
