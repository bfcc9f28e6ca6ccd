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

void matmul_forward(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t,
                    Runtime&) {
  no_cuda("matmul_forward");
}
void matmul_backward(float*, float*, float*, const float*, const float*, const float*, int64_t,
                     int64_t, int64_t, Runtime&) {
  no_cuda("matmul_backward");
}
void layernorm_forward(float*, float*, float*, float*, const float*, const float*, const float*,
                       const float*, int64_t, int64_t, float, Runtime&) {
  no_cuda("layernorm_forward");
}
void layernorm_backward(float*, float*, float*, const float*, const float*, const float*,
                        const float*, const float*, const float*, int64_t, int64_t, Runtime&) {
  no_cuda("layernorm_backward");
}
void gelu_forward(float*, const float*, int64_t, Runtime&) { no_cuda("gelu_forward"); }
void gelu_backward(float*, const float*, const float*, int64_t, Runtime&) {
  no_cuda("gelu_backward");
}
void dropout_forward(float*, const float*, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("dropout_forward");
}
void dropout_backward(float*, const float*, const float*, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("dropout_backward");
}
void attention_forward(float*, float*, const float*, const int64_t*, int64_t, int64_t, int64_t,
                       const DropoutSpec&, Runtime&) {
  no_cuda("attention_forward");
}
void attention_backward(float*, const float*, const float*, const float*, const float*,
                        const int64_t*, int64_t, int64_t, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("attention_backward");
}
void to_bf16(uint16_t*, const float*, int64_t, Runtime&) { no_cuda("to_bf16"); }
void from_bf16(float*, const uint16_t*, int64_t, Runtime&) { no_cuda("from_bf16"); }
void to_f16(uint16_t*, const float*, int64_t, Runtime&) { no_cuda("to_f16"); }
void from_f16(float*, const uint16_t*, int64_t, Runtime&) { no_cuda("from_f16"); }
void matmul_forward_fp16(float*, const float*, const float*, const float*, int64_t, int64_t,
                         int64_t, Runtime&) {
  no_cuda("matmul_forward");
}
void matmul_backward_fp16(float*, float*, float*, const float*, const float*, const float*,
                          int64_t, int64_t, int64_t, Runtime&) {
  no_cuda("matmul_backward");
}
void matmul_forward_bf16(float*, const float*, const float*, const float*, int64_t, int64_t,
                         int64_t, Runtime&) {
  no_cuda("matmul_forward");
}
void matmul_backward_bf16(float*, float*, float*, const float*, const float*, const float*,
                          int64_t, int64_t, int64_t, Runtime&) {
  no_cuda("matmul_backward");
}
void matmul_gelu_forward_bf16(float*, float*, const float*, const float*, const float*, int64_t,
                              int64_t, int64_t, Runtime&) {
  no_cuda("matmul_gelu_forward");
}
void gelu_matmul_backward_bf16(float*, float*, float*, float*, const float*, const float*,
                               const float*, const float*, int64_t, int64_t, int64_t, Runtime&) {
  no_cuda("gelu_matmul_backward");
}
void gelu_tanh_forward(float*, const float*, int64_t, Runtime&) { no_cuda("gelu_tanh_forward"); }
void gelu_tanh_backward(float*, const float*, const float*, int64_t, Runtime&) {
  no_cuda("gelu_tanh_backward");
}
void bind_bf16_weights(const float*, int64_t, Runtime&) { no_cuda("bind_bf16_weights"); }
void reserve_matmul_mixed(int64_t, int64_t, int64_t, Runtime&) { no_cuda("reserve_matmul"); }
void reserve_attention_mixed(int64_t, int64_t, int64_t, Runtime&) { no_cuda("reserve_attention"); }
void refresh_bf16_weights(Runtime&) { no_cuda("refresh_bf16_weights"); }
int64_t bf16_weight_casts(Runtime&) { no_cuda("bf16_weight_casts"); }
void attention_forward_mixed(float*, float*, const float*, const int64_t*, int64_t, int64_t,
                             int64_t, int64_t, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("attention_forward");
}
void attention_backward_mixed(float*, const float*, const float*, const float*, const float*,
                              const int64_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                              const DropoutSpec&, Runtime&) {
  no_cuda("attention_backward");
}
[[noreturn]] static void no_cudnn() {
  fail("[attention] model.attention_backend cudnn needs cuDNN on a CUDA GPU (this build has none)");
}
bool cudnn_attention_built() { return false; }
void attention_forward_cudnn(float*, float*, const float*, const int64_t*, int64_t, int64_t,
                             int64_t, int64_t, int64_t, const DropoutSpec&, Runtime&) {
  no_cudnn();
}
void attention_backward_cudnn(float*, const float*, const float*, const float*, const float*,
                              const int64_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                              const DropoutSpec&, Runtime&) {
  no_cudnn();
}
void attention_forward_bf16(uint16_t*, float*, const uint16_t*, const int64_t*, int64_t, int64_t,
                            int64_t, int64_t, const DropoutSpec&, Runtime&) {
  no_cuda("attention_forward_bf16");
}
void attention_backward_bf16(uint16_t*, const uint16_t*, const uint16_t*, const uint16_t*,
                             const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t,
                             const DropoutSpec&, Runtime&) {
  no_cuda("attention_backward_bf16");
}
void embedding_forward(float*, const int32_t*, const int32_t*, const int64_t*, int64_t,
                       const float*, const float*, const float*, int64_t, Runtime&) {
  no_cuda("embedding_forward");
}
void embedding_backward(float*, float*, float*, const float*, const int32_t*, const int32_t*,
                        const int64_t*, int64_t, int64_t, int32_t, int32_t, Runtime&) {
  no_cuda("embedding_backward");
}
void mean_pool_forward(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("mean_pool_forward");
}
void mean_pool_backward(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("mean_pool_backward");
}
void cls_pool_forward(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("cls_pool_forward");
}
void cls_pool_backward(float*, const float*, const int64_t*, int64_t, int64_t, Runtime&) {
  no_cuda("cls_pool_backward");
}
void l2norm_forward(float*, float*, const float*, int64_t, int64_t, Runtime&) {
  no_cuda("l2norm_forward");
}
void l2norm_backward(float*, const float*, const float*, const float*, int64_t, int64_t, Runtime&) {
  no_cuda("l2norm_backward");
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
