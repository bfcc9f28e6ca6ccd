// SIMT emulator: the kernel launch and the shared-memory declarations (simt/portable.cuh).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace simt::emu {

struct KernelLaunch {
  const char* name;          // the kernel with its template arguments
  const void* kernel;        // identity of the kernel (for cudaFuncSetAttribute)
  dim3 grid, block;
  size_t smem;               // dynamic shared memory
  cudaStream_t stream;
  const void* params;        // the argument block, as the kernel receives it
  size_t param_bytes;
  void (*body)(const void* params);  // runs the kernel as the current thread
};

// Runs the grid (simt/emu/scheduler.cpp). Errors become the launch's error (cudaGetLastError).
SIMT_EMU_API void run(const KernelLaunch& launch);

// Storage of a static shared declaration in the running block; `tag` identifies the
// declaration (one per kernel instantiation), so all threads of the block get the same bytes.
SIMT_EMU_API void* static_shared_bytes(const void* tag, size_t bytes, size_t align,
                                       const char* name);
SIMT_EMU_API void* dynamic_shared_bytes();

template <class T>
T& static_shared(const void* tag, const char* name) {
  return *static_cast<T*>(static_shared_bytes(tag, sizeof(T), alignof(T), name));
}
template <class T>
T* dynamic_shared() {
  return static_cast<T*>(dynamic_shared_bytes());
}

// "sbert::cuda::{anonymous}::kernel<64>" from the name of a function template instantiated
// for Kernel.
template <auto Kernel>
const char* kernel_name() {
  static const std::string name = [](std::string_view s) {
    const auto at = s.find("Kernel = ");
    if (at == std::string_view::npos) return std::string(s);
    s.remove_prefix(at + 9);
    const auto end = s.find_first_of(";]");
    return std::string(s.substr(0, end));
  }(__PRETTY_FUNCTION__);
  return name.c_str();
}

template <class F>
struct KernelTraits;
template <class... P>
struct KernelTraits<void (*)(P...)> {
  using Params = std::tuple<P...>;
  static constexpr size_t count = sizeof...(P);
  static constexpr size_t bytes = (size_t{0} + ... + ((sizeof(P) + 7) / 8 * 8));
  static constexpr bool trivially_copyable = (true && ... && std::is_trivially_copyable_v<P>);
};

// The kernel body of one emulated thread: copies the parameters as a launch does.
template <auto Kernel, class Params>
__attribute__((no_sanitize_thread)) void invoke(const void* params) {
  std::apply(Kernel, *static_cast<const Params*>(params));
}

template <auto Kernel, class... Args>
__attribute__((no_sanitize_thread)) void launch(dim3 grid, dim3 block, size_t smem,
                                                cudaStream_t stream, Args&&... args) {
  using Traits = KernelTraits<decltype(Kernel)>;
  static_assert(Traits::count == sizeof...(Args),
                "kernel launched with a different number of arguments than it declares");
  static_assert(Traits::trivially_copyable,
                "kernel parameters must be trivially copyable (they are copied to the device)");
  const typename Traits::Params params(std::forward<Args>(args)...);
  run(KernelLaunch{kernel_name<Kernel>(), reinterpret_cast<const void*>(Kernel), grid, block,
                   smem, stream, &params, sizeof(params), &invoke<Kernel, typename Traits::Params>});
}

}  // namespace simt::emu
