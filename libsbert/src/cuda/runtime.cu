#include "cuda/runtime.h"

#include "cuda/check.cuh"
#include "cuda/runtime_impl.cuh"

namespace sbert::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

size_t device_memory_in_use() {
  size_t free_bytes = 0, total = 0;
  SBERT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return total - free_bytes;
}

size_t device_memory_free() {
  size_t free_bytes = 0, total = 0;
  SBERT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  cudaError_t e = cudaGetDeviceProperties(&prop, device);
  SBERT_CHECK(e == cudaSuccess, "[cuda] device ", device, ": ", cudaGetErrorString(e));
  return prop.name;
}

namespace {
// Selects the device before the Impl (and its cuBLASLt handle) is constructed on it.
int select_device(int device) {
  const int n = device_count();
  SBERT_CHECK(device >= 0 && device < n, "[cuda] device ", device, " requested but ", n,
              " CUDA device(s) are present");
  SBERT_CUDA_CHECK(cudaSetDevice(device));
  return device;
}
}  // namespace

Runtime::Runtime(int device) {
  const int d = select_device(device);
  impl_ = std::make_unique<Impl>();
  impl_->device = d;
  SBERT_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
}

Runtime::~Runtime() {
  if (!impl_) return;
  if (impl_->stream) {
    cudaStreamSynchronize(impl_->stream);
    impl_->cudnn.reset();  // its handle is bound to the stream
    cudaStreamDestroy(impl_->stream);
  }
  if (impl_->scratch) cudaFree(impl_->scratch);
  for (void* w : impl_->workspace) {
    if (w) cudaFree(w);
  }
  if (impl_->weight_copy) cudaFree(impl_->weight_copy);
}

int Runtime::device() const { return impl_->device; }
Stream Runtime::stream() const { return impl_->stream; }

void Runtime::synchronize() const { SBERT_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

void* Runtime::Impl::scratch_for(size_t bytes) {
  if (bytes > scratch_bytes) {
    // The old block may still be read by queued kernels.
    SBERT_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (scratch) SBERT_CUDA_CHECK(cudaFree(scratch));
    scratch = nullptr;
    scratch_bytes = 0;
    SBERT_CUDA_CHECK(cudaMalloc(&scratch, bytes));
    scratch_bytes = bytes;
  }
  return scratch;
}

void* Runtime::Impl::workspace_for(int slot, size_t bytes) {
  SBERT_CHECK(slot >= 0 && slot < kWorkspaceSlots, "[cuda] workspace slot ", slot,
              " out of range");
  if (bytes > workspace_bytes[slot]) {
    SBERT_CUDA_CHECK(cudaStreamSynchronize(stream));  // queued work may still read the old block
    if (workspace[slot]) SBERT_CUDA_CHECK(cudaFree(workspace[slot]));
    workspace[slot] = nullptr;
    workspace_bytes[slot] = 0;
    SBERT_CUDA_CHECK(cudaMalloc(&workspace[slot], bytes));
    workspace_bytes[slot] = bytes;
  }
  return workspace[slot];
}

const uint16_t* Runtime::Impl::weight_copy_of(const float* w, int64_t count) const {
  if (!weight_copy || !w) return nullptr;
  // Addresses as integers: w may belong to another allocation.
  const auto at = reinterpret_cast<uintptr_t>(w), base = reinterpret_cast<uintptr_t>(weight_block);
  if (at < base || (at - base) % sizeof(float) != 0) return nullptr;
  const auto offset = static_cast<int64_t>((at - base) / sizeof(float));
  if (offset + count > weight_count) return nullptr;
  SBERT_CHECK(weight_copy_fresh,
              "[matmul] the bf16 weight copy was bound but never refreshed: "
              "refresh_bf16_weights after every change of the parameter block");
  return weight_copy + offset;
}

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  SBERT_CHECK(e == cudaSuccess, "[cuda] cannot allocate ", bytes,
              " bytes of device memory: ", cudaGetErrorString(e));
  return p;
}

void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}

// Streams of a Runtime are non-blocking: wait for the whole device around host copies.
void copy_to_device(void* dst, const void* src, size_t bytes) {
  SBERT_CUDA_CHECK(cudaDeviceSynchronize());
  SBERT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  SBERT_CUDA_CHECK(cudaDeviceSynchronize());  // pageable copies may still be in flight
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  SBERT_CUDA_CHECK(cudaDeviceSynchronize());
  SBERT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

// Pageable source: the call returns once the bytes are staged, so src may be reused at once.
void stream_copy_to_device(void* dst, const void* src, size_t bytes, Runtime& rt) {
  SBERT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, rt.stream()));
}

void stream_copy_to_host(void* dst, const void* src, size_t bytes, Runtime& rt) {
  SBERT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, rt.stream()));
  rt.synchronize();
}

void stream_zero(void* p, size_t bytes, Runtime& rt) {
  SBERT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, rt.stream()));
}

void device_zero(void* p, size_t bytes) {
  SBERT_CUDA_CHECK(cudaDeviceSynchronize());
  SBERT_CUDA_CHECK(cudaMemset(p, 0, bytes));
  SBERT_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace sbert::cuda
