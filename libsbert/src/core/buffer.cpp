#include "core/buffer.h"

namespace sbert {

void copy_to_device(const Context& ctx, void* dst, const void* src, size_t bytes) {
  cuda::stream_copy_to_device(dst, src, bytes, cuda_runtime(ctx, "copy_to_device"));
}

void copy_to_host(const Context& ctx, void* dst, const void* src, size_t bytes) {
  cuda::stream_copy_to_host(dst, src, bytes, cuda_runtime(ctx, "copy_to_host"));
}

}  // namespace sbert
