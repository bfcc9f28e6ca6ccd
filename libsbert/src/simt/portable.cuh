// What a kernel source of libsbert/src/cuda/ needs to compile both under nvcc and under the
// SIMT emulator (-DSBERT_CUDA=EMU, docs/emulator.md):
//
//   simt::launch<kernel>({grid, block, smem, stream}, args...)   instead of kernel<<<...>>>(...)
//   SIMT_SHARED(name, double[4][32]);                            instead of __shared__ double name[4][32];
//   SIMT_DYNAMIC_SHARED(float, smem);                            instead of extern __shared__ float smem[];
//
// Under nvcc these expand to exactly the CUDA forms. Under the emulator, the launch runs the
// grid on the CPU (blocks one after another, the threads of a block as fibers) with the launch
// checks of a real device, and the shared-memory declarations take their storage from the
// running block's shared memory, where every access is seen by the race detector.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#ifdef SBERT_SIMT_EMU
#include "simt/emu/launch.h"
#endif

namespace simt {

template <class T>
struct identity {
  using type = T;
};
template <class T>
using identity_t = typename identity<T>::type;

// A launch configuration: what <<<grid, block, smem, stream>>> says.
struct Launch {
  dim3 grid;
  dim3 block;
  size_t smem = 0;  // dynamic shared memory, bytes
  cudaStream_t stream = nullptr;
};

template <auto Kernel, class... Args>
void launch(const Launch& cfg, Args&&... args) {
#ifdef SBERT_SIMT_EMU
  emu::launch<Kernel>(cfg.grid, cfg.block, cfg.smem, cfg.stream, std::forward<Args>(args)...);
#else
  Kernel<<<cfg.grid, cfg.block, cfg.smem, cfg.stream>>>(std::forward<Args>(args)...);
#endif
}

}  // namespace simt

#ifdef SBERT_SIMT_EMU
#define SIMT_SHARED(name, ...)        \
  static char name##_simt_tag_ = 0;   \
  ::simt::identity_t<__VA_ARGS__>& name = \
      ::simt::emu::static_shared<__VA_ARGS__>(&name##_simt_tag_, #name)
#define SIMT_DYNAMIC_SHARED(type, name) type* const name = ::simt::emu::dynamic_shared<type>()
#else
#define SIMT_SHARED(name, ...) __shared__ ::simt::identity_t<__VA_ARGS__> name
#define SIMT_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif
