// The CUDA backend's host-side entry points that need no CUDA types: device queries, the
// Runtime (stream + cuBLASLt state of one device) and device memory. Defined in runtime.cu
// when libsbert is built with CUDA, and in cuda_stubs/stubs.cpp (throwing) otherwise, so code
// and tests that include this header compile and link in every build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct CUstream_st;  // what cudaStream_t points to

namespace sbert::cuda {

using Stream = CUstream_st*;  // == cudaStream_t

int device_count();  // 0 when no GPU or no driver; never throws
// Bytes of the current device's memory in use (cudaMemGetInfo: total - free), this process's
// and anything else on the device.
size_t device_memory_in_use();
size_t device_memory_free();  // what cudaMemGetInfo says is free on the current device
std::string device_name(int device);

// The per-device state every CUDA op runs with: one non-blocking stream, the cuBLASLt handle,
// its workspace and the GEMM plans cached per shape (cuda/blas.h), and a scratch block for
// reductions that grows to the largest request (allocation happens on first use of a size,
// never again in later steps of the same shapes). Not thread-safe: one Runtime per thread.
class Runtime {
 public:
  explicit Runtime(int device = 0);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int device() const;
  Stream stream() const;
  void synchronize() const;  // waits for the stream, throws on an asynchronous kernel error

  struct Impl;  // cuda/runtime_impl.h (CUDA types)
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Device memory (synchronous copies on the legacy default stream after synchronizing the
// device, for tests and setup; the step itself never calls these).
void* device_alloc(size_t bytes);  // throws with the size and the CUDA error
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void device_zero(void* p, size_t bytes);

// Copies queued on rt's stream, in order with the kernels queued there: the per-batch traffic.
// to_device returns once src may be reused; to_host once dst holds the bytes (it waits for the
// stream, and throws on an asynchronous kernel error as synchronize() does).
void stream_copy_to_device(void* dst, const void* src, size_t bytes, Runtime& rt);
void stream_copy_to_host(void* dst, const void* src, size_t bytes, Runtime& rt);
void stream_zero(void* p, size_t bytes, Runtime& rt);

// An owning device array of n elements of a trivially copyable T.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n)
      : n_(n), p_(static_cast<T*>(n ? device_alloc(n * sizeof(T)) : nullptr)) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    if (n_) copy_to_device(p_, host.data(), n_ * sizeof(T));
  }
  ~DeviceBuffer() { device_free(p_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : n_(o.n_), p_(o.p_) { o.n_ = 0, o.p_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      device_free(p_);
      n_ = o.n_, p_ = o.p_;
      o.n_ = 0, o.p_ = nullptr;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return p_; }
  size_t size() const { return n_; }
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    if (n_) copy_to_host(h.data(), p_, n_ * sizeof(T));
    return h;
  }
  void zero() {
    if (n_) device_zero(p_, n_ * sizeof(T));
  }

 private:
  size_t n_ = 0;
  T* p_ = nullptr;
};

}  // namespace sbert::cuda
