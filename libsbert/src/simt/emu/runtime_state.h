// SIMT emulator: the process-wide state of the emulated device that the scheduler needs from
// the runtime (runtime.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace simt::emu {

// Held while a grid executes: one launch at a time in the process (host threads acting as
// NCCL ranks may launch concurrently; a device would interleave them, the emulator orders them).
std::mutex& execution_lock();
// A fresh serial for each block executed (the race detector's shadow is keyed by it).
uint64_t next_block_serial();
// cudaFuncAttributeMaxDynamicSharedMemorySize of the kernel (48 KiB when never set).
size_t kernel_smem_attribute(const void* kernel);

}  // namespace simt::emu
