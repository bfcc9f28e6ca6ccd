// The one dispatch point between backends: every op takes the Context and device pointers,
// and calls cpu::name or cuda::name with the same arguments (see cpu/kernels.h for the
// shapes and THE GRADIENT RULE). nn/ calls only these.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace sbert::ops {

void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight,
                    const float* bias, int64_t rows, int64_t k, int64_t n);
void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int64_t rows,
                     int64_t k, int64_t n);
void layernorm_forward(const Context& ctx, float* out, float* sum, float* mean, float* rstd,
                       const float* a, const float* b, const float* weight, const float* bias,
                       int64_t rows, int64_t C, float eps);
void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias,
                        const float* dout, const float* inp, const float* weight,
                        const float* mean, const float* rstd, int64_t rows, int64_t C);
void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t n);
void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout,
                   int64_t n);
void attention_forward(const Context& ctx, float* out, float* lse, const float* qkv,
                       const int64_t* cu_seqlens, int64_t nseq, int64_t heads,
                       int64_t head_dim);
void attention_backward(const Context& ctx, float* dqkv, const float* dout, const float* qkv,
                        const float* out, const float* lse, const int64_t* cu_seqlens,
                        int64_t nseq, int64_t heads, int64_t head_dim);
void embedding_forward(const Context& ctx, float* out, const int32_t* ids,
                       const int64_t* cu_seqlens, int64_t nseq, const float* word,
                       const float* pos, const float* type, int64_t C);
void embedding_backward(const Context& ctx, float* dword, float* dpos, float* dtype,
                        const float* dout, const int32_t* ids, const int64_t* cu_seqlens,
                        int64_t nseq, int64_t C);
void mean_pool_forward(const Context& ctx, float* out, const float* inp,
                       const int64_t* cu_seqlens, int64_t nseq, int64_t C);
void mean_pool_backward(const Context& ctx, float* dinp, const float* dout,
                        const int64_t* cu_seqlens, int64_t nseq, int64_t C);
void cls_pool_forward(const Context& ctx, float* out, const float* inp,
                      const int64_t* cu_seqlens, int64_t nseq, int64_t C);
void cls_pool_backward(const Context& ctx, float* dinp, const float* dout,
                       const int64_t* cu_seqlens, int64_t nseq, int64_t C);
void l2norm_forward(const Context& ctx, float* out, float* norm, const float* inp, int64_t rows,
                    int64_t C);
void l2norm_backward(const Context& ctx, float* dinp, const float* dout, const float* out,
                     const float* norm, int64_t rows, int64_t C);

}  // namespace sbert::ops
