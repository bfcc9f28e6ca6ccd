// attention_forward / attention_backward's fp32 contracts through the bf16 tensor-core kernels
// (cuda/attention_bf16.h): the fp32 operands rounded to bf16 in the Runtime's workspace, the
// bf16 results widened back to fp32. lse stays fp32.
#include "cuda/attention_bf16.h"
#include "cuda/common.cuh"
#include "cuda/mixed.h"

namespace sbert::cuda {

namespace {

// Workspace slot s as n bf16 values, filled from x when given.
uint16_t* bf16_slot(int s, const float* x, int64_t n, Runtime& rt) {
  auto* h =
      static_cast<uint16_t*>(rt.impl().workspace_for(s, static_cast<size_t>(n) * sizeof(uint16_t)));
  if (x) to_bf16(h, x, n, rt);
  return h;
}

}  // namespace

void reserve_attention_mixed(int64_t tokens, int64_t heads, int64_t head_dim, Runtime& rt) {
  const int64_t H = heads * head_dim;
  bf16_slot(0, nullptr, tokens * 3 * H, rt);  // qkv
  bf16_slot(1, nullptr, tokens * H, rt);      // out
  bf16_slot(2, nullptr, tokens * H, rt);      // dout
  bf16_slot(3, nullptr, tokens * 3 * H, rt);  // dqkv
}

static void attention_forward_mixed_impl(float* out, float* lse, const float* qkv,
                                         const int64_t* cu_seqlens, int64_t nseq, int64_t tokens,
                                         int64_t max_seqlen, int64_t heads, int64_t head_dim,
                                         const DropoutSpec& dropout, Runtime& rt) {
  SBERT_CHECK(tokens >= 0 && max_seqlen >= 0,
              "[attention_forward] bf16 needs the batch's token "
              "count and longest sequence, got ",
              tokens, " and ", max_seqlen);
  if (tokens == 0 || nseq == 0) return;
  const int64_t H = heads * head_dim;
  const uint16_t* q = bf16_slot(0, qkv, tokens * 3 * H, rt);
  uint16_t* o = bf16_slot(1, nullptr, tokens * H, rt);
  attention_forward_bf16(o, lse, q, cu_seqlens, nseq, max_seqlen, heads, head_dim, dropout, rt);
  from_bf16(out, o, tokens * H, rt);
}

static void attention_backward_mixed_impl(float* dqkv, const float* dout, const float* qkv,
                                          const float* out, const float* lse,
                                          const int64_t* cu_seqlens, int64_t nseq, int64_t tokens,
                                          int64_t max_seqlen, int64_t heads, int64_t head_dim,
                                          const DropoutSpec& dropout, Runtime& rt) {
  SBERT_CHECK(tokens >= 0 && max_seqlen >= 0,
              "[attention_backward] bf16 needs the batch's token "
              "count and longest sequence, got ",
              tokens, " and ", max_seqlen);
  if (tokens == 0 || nseq == 0) return;
  const int64_t H = heads * head_dim;
  const uint16_t* q = bf16_slot(0, qkv, tokens * 3 * H, rt);
  const uint16_t* o = bf16_slot(1, out, tokens * H, rt);
  const uint16_t* d = bf16_slot(2, dout, tokens * H, rt);
  uint16_t* dq = bf16_slot(3, nullptr, tokens * 3 * H, rt);
  attention_backward_bf16(dq, d, q, o, lse, cu_seqlens, nseq, max_seqlen, heads, head_dim, dropout,
                          rt);
  from_bf16(dqkv, dq, tokens * 3 * H, rt);
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void attention_forward_mixed(const AttentionForwardArgs<float>& a, Runtime& rt) {
  attention_forward_mixed_impl(a.out, a.lse, a.qkv, a.cu_seqlens, a.nseq, a.dims.tokens,
                               a.dims.max_seqlen, a.heads, a.head_dim, a.dropout, rt);
}
void attention_backward_mixed(const AttentionBackwardArgs<float>& a, Runtime& rt) {
  attention_backward_mixed_impl(a.dqkv, a.dout, a.qkv, a.out, a.lse, a.cu_seqlens, a.nseq,
                                a.dims.tokens, a.dims.max_seqlen, a.heads, a.head_dim, a.dropout,
                                rt);
}

}  // namespace sbert::cuda
