#include "core/buffer.h"

#include <cstring>

namespace sbert {

void copy_to_device(const Context& ctx, void* dst, const void* src, size_t bytes) {
  cuda::stream_copy_to_device(dst, src, bytes, cuda_runtime(ctx, "copy_to_device"));
}

void copy_to_host(const Context& ctx, void* dst, const void* src, size_t bytes) {
  cuda::stream_copy_to_host(dst, src, bytes, cuda_runtime(ctx, "copy_to_host"));
}

void fill_zero(const Context& ctx, void* p, size_t bytes) {
  if (bytes == 0) return;
  if (ctx.device == Device::CPU) {
    std::memset(p, 0, bytes);
  } else {
    cuda::stream_zero(p, bytes, cuda_runtime(ctx, "fill_zero"));
  }
}

}  // namespace sbert
