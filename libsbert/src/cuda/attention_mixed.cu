// attention_forward / attention_backward's fp32 contracts through the bf16 tensor-core kernels
// (cuda/attention_bf16.h): the fp32 operands rounded to bf16 in the Runtime's workspace (or
// the bf16 copies the encoder keeps: args.h), the bf16 results widened back to fp32 (unless only
// the bf16 output is wanted). lse stays fp32.
#include "cuda/attention_bf16.h"
#include "cuda/common.cuh"
#include "cuda/mixed.h"

namespace sbert::cuda {

namespace {

// n bf16 values in `into` when given, else in workspace slot s; filled from x when given.
uint16_t* bf16_slot(int s, const float* x, int64_t n, Runtime& rt, uint16_t* into = nullptr) {
  auto* h = into ? into
                 : static_cast<uint16_t*>(
                       rt.impl().workspace_for(s, static_cast<size_t>(n) * sizeof(uint16_t)));
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

AttentionForwardBf16 attention_forward_operands(const AttentionForwardArgs<float>& a,
                                                Runtime& rt) {
  const int64_t n = a.dims.tokens * a.heads * a.head_dim;  // (T, H)
  return {bf16_slot(0, a.qkv, 3 * n, rt, a.keep_qkv16), bf16_slot(1, nullptr, n, rt, a.out16)};
}

void attention_forward_widen(const AttentionForwardArgs<float>& a, const uint16_t* out,
                             Runtime& rt) {
  if (a.out) from_bf16(a.out, out, a.dims.tokens * a.heads * a.head_dim, rt);
}

AttentionBackwardBf16 attention_backward_operands(const AttentionBackwardArgs<float>& a,
                                                  Runtime& rt) {
  const int64_t n = a.dims.tokens * a.heads * a.head_dim;  // (T, H)
  return {a.qkv16 ? a.qkv16 : bf16_slot(0, a.qkv, 3 * n, rt),
          a.out16 ? a.out16 : bf16_slot(1, a.out, n, rt), bf16_slot(2, a.dout, n, rt),
          bf16_slot(3, nullptr, 3 * n, rt)};
}

static void check_dims(const char* op, const BatchDims& dims) {
  SBERT_CHECK(dims.tokens >= 0 && dims.max_seqlen >= 0, "[", op,
              "] bf16 needs the batch's token count and longest sequence, got ", dims.tokens,
              " and ", dims.max_seqlen);
}

// The entry points (cuda/kernels.h, cuda/mixed.h): each op's argument struct, unpacked.
void attention_forward_mixed(const AttentionForwardArgs<float>& a, Runtime& rt) {
  check_dims("attention_forward", a.dims);
  if (a.dims.tokens == 0 || a.nseq == 0) return;
  const AttentionForwardBf16 io = attention_forward_operands(a, rt);
  attention_forward_bf16(io.out, a.lse, io.qkv, a.cu_seqlens, a.nseq, a.dims.max_seqlen, a.heads,
                         a.head_dim, a.dropout, rt);
  attention_forward_widen(a, io.out, rt);
}
void attention_backward_mixed(const AttentionBackwardArgs<float>& a, Runtime& rt) {
  check_dims("attention_backward", a.dims);
  if (a.dims.tokens == 0 || a.nseq == 0) return;
  const AttentionBackwardBf16 io = attention_backward_operands(a, rt);
  attention_backward_bf16(io.dqkv, io.dout, io.qkv, io.out, a.lse, a.cu_seqlens, a.nseq,
                          a.dims.max_seqlen, a.heads, a.head_dim, a.dropout, rt);
  from_bf16(a.dqkv, io.dqkv, 3 * a.dims.tokens * a.heads * a.head_dim, rt);
}

}  // namespace sbert::cuda
