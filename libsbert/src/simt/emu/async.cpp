// SIMT emulator: cp.async (simt/mma.cuh). Each emulated thread keeps its copies in flight in
// issue order, tagged with the commit group they belong to (Lane::async_copies). Nothing is
// copied at issue: cp_async_wait(N) performs, as accesses of the waiting thread, the copies of
// every group but the newest N. So a kernel that reads a destination before waiting sees the old
// contents (as it may on a GPU), and the race detector sees the write when the wait makes it
// visible to the thread. Copies never waited for are dropped: their destination is shared
// memory, which no longer exists once the block ends, and without a wait no thread could have
// relied on them.
#include <cstring>
#include <string>

#include "simt/emu/state.h"
#include "simt/emu/tensor.h"

namespace simt::emu {

void cp_async(void* dst, const void* src, unsigned bytes, unsigned src_bytes, const char* file,
              int line) {
  Lane& l = *tl_current.lane;
  const Exec& e = *tl_current.exec;
  const std::string call = "cp.async at " + loc(file, line);
  if (!(bytes == 4 || bytes == 8 || bytes == 16) || src_bytes > bytes) {
    kernel_report(Check::Launch,
                  call + ": copy size " + std::to_string(bytes) + " with source size " +
                      std::to_string(src_bytes) + " (sizes are 4, 8 or 16)",
                  true);
  }
  const auto d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  const auto sh = reinterpret_cast<uintptr_t>(e.shared);
  if (d < sh || d + bytes > sh + kSharedOptin) {
    kernel_report(Check::Memcheck, call + ": the destination is not shared memory", true);
  }
  if (src_bytes > 0 && !is_device_address(src)) {
    kernel_report(Check::Memcheck, call + ": the source is not device (global) memory", true);
  }
  if (d % bytes != 0 || s % bytes != 0) {
    kernel_report(Check::Memcheck,
                  call + ": " + std::to_string(bytes) +
                      "-byte copy with a source or destination not aligned to its size",
                  true);
  }
  l.async_copies.push_back(AsyncCopy{dst, src, bytes, src_bytes, l.async_committed});
}

void cp_async_commit() { ++tl_current.lane->async_committed; }

void cp_async_wait(unsigned pending) {
  Lane& l = *tl_current.lane;
  if (l.async_committed <= pending) return;
  const uint32_t done_below = l.async_committed - pending;  // groups 0 .. done_below-1 complete
  size_t kept = 0;
  for (size_t i = 0; i < l.async_copies.size(); ++i) {
    const AsyncCopy c = l.async_copies[i];
    if (c.group >= done_below) {
      l.async_copies[kept++] = c;
      continue;
    }
    if (c.src_bytes > 0) hook_access(c.src, c.src_bytes, Access::Read);
    hook_access(c.dst, c.bytes, Access::Write);
    if (c.src_bytes > 0) std::memcpy(c.dst, c.src, c.src_bytes);
    std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, c.bytes - c.src_bytes);
  }
  l.async_copies.resize(kept);
}

}  // namespace simt::emu
