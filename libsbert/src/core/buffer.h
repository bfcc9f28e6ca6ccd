// Buffer<T>: an owning array of Ts on the device a Context names, host memory (a std::vector)
// or CUDA device memory (cuda::DeviceBuffer). The encoder's and pooling's caches are Buffers, so
// one code path runs on either device. A Buffer grows and never shrinks: after the largest batch
// of a run, a pass allocates nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "core/check.h"
#include "core/context.h"
#include "cuda/runtime.h"

namespace sbert {

// Copies between host memory and ctx's device, queued on its Runtime's stream in order with the
// ops: the only traffic of an inference pass (token ids and offsets in, embeddings out).
// copy_to_device returns once src may be reused; copy_to_host once dst holds the bytes. Both
// throw when ctx is a CUDA Context without a Runtime.
void copy_to_device(const Context& ctx, void* dst, const void* src, size_t bytes);
void copy_to_host(const Context& ctx, void* dst, const void* src, size_t bytes);
// bytes zero bytes at p, memory of ctx's device (on its stream).
void fill_zero(const Context& ctx, void* p, size_t bytes);

template <class T>
class Buffer {
 public:
  // n elements on ctx.device. Growing keeps the contents on the host, not on a device (every op
  // writes its output before anything reads it); moving to another device drops them.
  void resize(const Context& ctx, size_t n) {
    if (ctx.device != device_) {
      host_ = {};
      dev_ = {};
      device_ = ctx.device;
    }
    if (device_ == Device::CPU) {
      host_.resize(n);
    } else if (n > dev_.size()) {
      // The first allocation is exact (a parameter block never grows); a buffer that has to
      // grow again gets 25% headroom, as batches vary in length.
      const size_t want = dev_.size() == 0 ? n : n + n / 4;
      dev_ = {};  // free first: the old and the new block need not fit together
      dev_ = cuda::DeviceBuffer<T>(want);
    }
    n_ = n;
  }

  T* data() { return device_ == Device::CPU ? host_.data() : dev_.get(); }
  const T* data() const { return device_ == Device::CPU ? host_.data() : dev_.get(); }
  size_t size() const { return n_; }
  Device device() const { return device_; }

  // The elements of a host buffer; a device buffer throws (read() copies it out).
  std::span<T> host() {
    check_host();
    return {host_.data(), n_};
  }
  std::span<const T> host() const {
    check_host();
    return {host_.data(), n_};
  }

  // Copies the n elements to dst (host memory) from either device; ctx is the buffer's.
  void read(const Context& ctx, T* dst) const {
    if (device_ == Device::CPU) {
      std::copy_n(host_.data(), n_, dst);
    } else {
      copy_to_host(ctx, dst, dev_.get(), n_ * sizeof(T));
    }
  }
  // Copies the n elements from src (host memory) into the buffer, on either device.
  void write(const Context& ctx, const T* src) {
    if (n_ == 0) return;
    if (device_ == Device::CPU) {
      std::copy_n(src, n_, host_.data());
    } else {
      copy_to_device(ctx, dev_.get(), src, n_ * sizeof(T));
    }
  }
  std::vector<T> to_host(const Context& ctx) const {
    std::vector<T> out(n_);
    read(ctx, out.data());
    return out;
  }

 private:
  void check_host() const {
    SBERT_CHECK(device_ == Device::CPU, "[buffer] ", n_,
                " elements in CUDA device memory read as host memory (copy them out first)");
  }

  Device device_ = Device::CPU;
  size_t n_ = 0;
  std::vector<T> host_;
  cuda::DeviceBuffer<T> dev_;
};

// host's elements where the ops of ctx read them: host itself on the CPU; on a device, a copy
// in staging (queued on the stream: it may be refilled for the next batch at once).
template <class T>
const T* stage(const Context& ctx, Buffer<T>& staging, const std::vector<T>& host) {
  if (ctx.device == Device::CPU) return host.data();
  staging.resize(ctx, host.size());
  staging.write(ctx, host.data());
  return staging.data();
}

}  // namespace sbert
