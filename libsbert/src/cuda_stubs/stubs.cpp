// CPU-only build: the CUDA backend's entry points throw a clear error. device_count() is 0, so
// callers that check it (tests, device "auto") never reach the throwing ones.
#include "core/check.h"
#include "cuda/attention_bf16.h"
#include "cuda/kernels.h"
#include "cuda/mixed.h"
#include "cuda/runtime.h"
#include "cuda/train_kernels.h"

namespace sbert::cuda {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  fail("[", op, "] libsbert was built without CUDA (configure with -DSBERT_CUDA=ON)");
}
}  // namespace

int device_count() { return 0; }
std::string device_name(int /*device*/) { no_cuda("cuda"); }
size_t device_memory_in_use() { no_cuda("cuda"); }
size_t device_memory_free() { no_cuda("cuda"); }

struct Runtime::Impl {};
Runtime::Runtime(int /*device*/) { no_cuda("cuda"); }
Runtime::~Runtime() = default;
int Runtime::device() const { no_cuda("cuda"); }
Stream Runtime::stream() const { no_cuda("cuda"); }
void Runtime::synchronize() const { no_cuda("cuda"); }

void* device_alloc(size_t /*bytes*/) { no_cuda("cuda"); }
void device_free(void* /*p*/) noexcept {}
void copy_to_device(void*, const void*, size_t) { no_cuda("cuda"); }
void copy_to_host(void*, const void*, size_t) { no_cuda("cuda"); }
void stream_copy_to_device(void*, const void*, size_t, Runtime&) { no_cuda("cuda"); }
void stream_copy_to_host(void*, const void*, size_t, Runtime&) { no_cuda("cuda"); }
void stream_zero(void*, size_t, Runtime&) { no_cuda("cuda"); }
void device_zero(void*, size_t) { no_cuda("cuda"); }

#define SBERT_NO_CUDA(op, Args) \
  void op(const Args<float>&, Runtime&) { no_cuda(#op); }
SBERT_NO_CUDA(matmul_forward, MatmulForwardArgs)
SBERT_NO_CUDA(matmul_backward, MatmulBackwardArgs)
SBERT_NO_CUDA(layernorm_forward, LayerNormForwardArgs)
SBERT_NO_CUDA(layernorm_backward, LayerNormBackwardArgs)
SBERT_NO_CUDA(gelu_forward, GeluForwardArgs)
SBERT_NO_CUDA(gelu_backward, GeluBackwardArgs)
SBERT_NO_CUDA(dropout_forward, DropoutForwardArgs)
SBERT_NO_CUDA(dropout_backward, DropoutBackwardArgs)
SBERT_NO_CUDA(attention_forward, AttentionForwardArgs)
SBERT_NO_CUDA(attention_backward, AttentionBackwardArgs)
SBERT_NO_CUDA(embedding_forward, EmbeddingForwardArgs)
SBERT_NO_CUDA(embedding_backward, EmbeddingBackwardArgs)
SBERT_NO_CUDA(mean_pool_forward, PoolForwardArgs)
SBERT_NO_CUDA(mean_pool_backward, PoolBackwardArgs)
SBERT_NO_CUDA(cls_pool_forward, PoolForwardArgs)
SBERT_NO_CUDA(cls_pool_backward, PoolBackwardArgs)
SBERT_NO_CUDA(l2norm_forward, L2NormForwardArgs)
SBERT_NO_CUDA(l2norm_backward, L2NormBackwardArgs)
SBERT_NO_CUDA(matmul_forward_bf16, MatmulForwardArgs)
SBERT_NO_CUDA(matmul_backward_bf16, MatmulBackwardArgs)
SBERT_NO_CUDA(matmul_forward_fp16, MatmulForwardArgs)
SBERT_NO_CUDA(matmul_backward_fp16, MatmulBackwardArgs)
SBERT_NO_CUDA(matmul_gelu_forward_bf16, MatmulGeluForwardArgs)
SBERT_NO_CUDA(gelu_matmul_backward_bf16, GeluMatmulBackwardArgs)
SBERT_NO_CUDA(attention_forward_mixed, AttentionForwardArgs)
SBERT_NO_CUDA(attention_backward_mixed, AttentionBackwardArgs)
#undef SBERT_NO_CUDA
void to_bf16(uint16_t*, const float*, int64_t, Runtime&) { no_cuda("to_bf16"); }
void from_bf16(float*, const uint16_t*, int64_t, Runtime&) { no_cuda("from_bf16"); }
void to_f16(uint16_t*, const float*, int64_t, Runtime&) { no_cuda("to_f16"); }
void from_f16(float*, const uint16_t*, int64_t, Runtime&) { no_cuda("from_f16"); }
void gelu_tanh_forward(float*, const float*, int64_t, Runtime&) { no_cuda("gelu_tanh_forward"); }
void gelu_tanh_backward(float*, const float*, const float*, int64_t, Runtime&) {
  no_cuda("gelu_tanh_backward");
}
void bind_bf16_weights(const float*, int64_t, Runtime&) { no_cuda("bind_bf16_weights"); }
void reserve_matmul_mixed(int64_t, int64_t, int64_t, Runtime&) { no_cuda("reserve_matmul"); }
void reserve_attention_mixed(int64_t, int64_t, int64_t, Runtime&) { no_cuda("reserve_attention"); }
void refresh_bf16_weights(Runtime&) { no_cuda("refresh_bf16_weights"); }
int64_t bf16_weight_casts(Runtime&) { no_cuda("bf16_weight_casts"); }
[[noreturn]] static void no_cudnn() {
  fail(kNoCudnn);
}
bool cudnn_attention_built() { return false; }
void attention_forward_cudnn(const AttentionForwardArgs<float>&, Runtime&) { no_cudnn(); }
void attention_backward_cudnn(const AttentionBackwardArgs<float>&, Runtime&) { no_cudnn(); }
void attention_forward_bf16(uint16_t*, float*, const uint16_t*, const int64_t*, int64_t, int64_t,
                            int64_t, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("attention_forward_bf16");
}
void attention_backward_bf16(uint16_t*, const uint16_t*, const uint16_t*, const uint16_t*,
                             const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t,
                             const DropoutSpec&, Runtime&) {
  no_cuda("attention_backward_bf16");
}

void adamw_update(float*, float*, float*, const float*, int64_t, const AdamWScalars&, Runtime&) {
  no_cuda("adamw");
}
double sum_squares(const float*, int64_t, Runtime&) { no_cuda("grad_norm"); }
void clip_by_global_norm(float*, int64_t, double, double*, Runtime&) { no_cuda("grad_norm"); }
void reserve_clip_by_global_norm(int64_t, Runtime&) { no_cuda("grad_norm"); }
void adamw_update_multi(float*, float*, float*, const float*, int64_t, const int64_t*,
                        const uint8_t*, int, const AdamWScalars&, const AdamWScalars&, Runtime&) {
  no_cuda("adamw");
}
void scale_inplace(float*, int64_t, float, Runtime&) { no_cuda("grad_norm"); }
LossStats contrastive_loss(float*, float*, float*, const float*, const float*, const float*,
                           const uint8_t*, int64_t, int64_t, int64_t, const LossConfig&, Runtime&) {
  no_cuda("loss");
}
size_t contrastive_loss_scratch_bytes(const LossConfig&, int64_t, int64_t, int64_t, bool) {
  no_cuda("loss");
}
void reserve_contrastive_loss(const LossConfig&, int64_t, int64_t, int64_t, bool, Runtime&) {
  no_cuda("loss");
}
void gather_rows(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("gather_rows");
}
void scatter_rows(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("scatter_rows");
}

}  // namespace sbert::cuda
