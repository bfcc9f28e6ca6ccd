// SIMT emulator internals shared by the scheduler (scheduler.cpp), the access hooks
// (hooks.cpp) and device memory (memory.cpp). Nothing here is seen by kernel sources.
#pragma once

#include <boost/context/fiber.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "simt/emu/core.h"
#include "simt/emu/launch.h"

namespace simt::emu {

constexpr int kWarp = 32;
constexpr size_t kMaxThreads = 1024;
constexpr size_t kSharedDefault = 48 * 1024;   // without cudaFuncAttributeMaxDynamicSharedMemorySize
constexpr size_t kSharedOptin = 227 * 1024;    // H100, with the opt-in attribute
constexpr size_t kMaxParamBytes = 32764;       // CUDA 12.1+ on Volta and later
constexpr size_t kStackBytes = 256 * 1024;     // per emulated thread

enum class LaneState : uint8_t { Ready, AtBarrier, AtWarp, Done };

// One cp.async in flight (simt/emu/async.cpp): done, as the issuing thread's own accesses, when
// that thread waits for its group.
struct AsyncCopy {
  void* dst;
  const void* src;
  uint32_t bytes;      // copy size (4, 8 or 16)
  uint32_t src_bytes;  // bytes read from src; the rest of dst is zero-filled
  uint32_t group;      // index of the commit group it belongs to
};

// One emulated thread.
struct Lane {
  uint3 tid{};
  int linear = 0, warp = 0, lane = 0;
  LaneState state = LaneState::Ready;
  boost::context::fiber self;   // suspended context of this thread (empty while it runs)
  boost::context::fiber back;   // the scheduler, while this thread runs
  char* stack_lo = nullptr;
  char* stack_hi = nullptr;
  const char* wait_file = nullptr;  // where it waits (barrier or collective)
  int wait_line = 0;
  uint64_t coll_result = 0;
  // cp.async copies this thread issued and has not waited for (simt/emu/async.cpp).
  std::vector<AsyncCopy> async_copies;
  uint32_t async_committed = 0;  // cp.async.commit_group count so far
};

// A warp collective some lanes have reached.
struct Pending {
  Coll kind;
  unsigned mask;
  unsigned arrived = 0;
  int width = 32;
  std::array<uint64_t, kWarp> value{};
  std::array<int, kWarp> arg{};
  const char* file;
  int line;
};

struct Warp {
  unsigned live = 0;       // lanes of this warp that exist and have not exited
  uint32_t collectives = 0;  // completed collectives (ids 1, 2, ...)
  // last_shared[a][b]: id of the latest completed collective that both lanes a and b took part
  // in: an access of lane a before it happened-before any access of lane b after it.
  std::array<std::array<uint32_t, kWarp>, kWarp> last_shared{};
  std::vector<Pending> pending;
  Combine combine = nullptr;  // the warp_combine being gathered (one per warp at a time)
  const void* combine_ctx = nullptr;
};

// Race-detector shadow of one 4-byte word of shared memory. The byte masks say which bytes of
// the word the last writer and the two last readers touched, so threads writing neighbouring
// 1- or 2-byte values (bf16 tiles) do not race.
struct SharedWord {
  uint64_t serial = 0;  // block serial the entry belongs to (stale entries are empty)
  uint32_t w_epoch = 0, w_coll = 0;
  int32_t writer = -1;
  uint32_t r_epoch[2]{}, r_coll[2]{};
  int32_t reader[2]{-1, -1};
  uint8_t w_mask = 0;
  uint8_t r_mask[2]{};
};

struct Block {
  uint3 idx{};
  uint64_t serial = 0;
  std::vector<Lane> lanes;
  std::vector<Warp> warps;
  int live = 0;
  int at_barrier = 0;
  uint32_t epoch = 0;  // completed __syncthreads
  size_t static_used = 0;
  std::vector<std::pair<const void*, size_t>> static_decls;  // tag -> offset
  size_t races_reported = 0;
};

// The launch being executed on this host thread.
struct Exec {
  const KernelLaunch* launch = nullptr;
  Block block;
  char* shared = nullptr;    // dynamic part at 0, static declarations after it
  size_t dynamic_bytes = 0;
  size_t shared_limit = 0;   // static + dynamic allowed for this kernel
  size_t shared_high = 0;    // bytes used by earlier blocks (poisoned at each block start)
  SharedWord* shadow = nullptr;  // the race detector's shadow of `shared`
  bool aborted = false;
  cudaError_t error = cudaSuccess;
};

// Thrown inside an emulated thread to stop the kernel (a fault a GPU would trap on).
struct KernelFault {};

// The running thread and launch of this host thread (null outside a kernel). Read by the
// access hooks on every load and store, hence initial-exec TLS (no __tls_get_addr call).
struct Current {
  Lane* lane = nullptr;
  Exec* exec = nullptr;
};
extern thread_local Current tl_current __attribute__((tls_model("initial-exec")));
inline Lane* current_lane() { return tl_current.lane; }
inline Exec* current_exec() { return tl_current.exec; }

// The shared-memory arena of this host thread (kSharedOptin bytes) and its shadow.
char* shared_arena();
SharedWord* shared_shadow();

// "kernel K block (x,y,z) thread (x,y,z)" of the running thread.
std::string where();
// Records a report for the running kernel; with fatal, also stops it (KernelFault).
void kernel_report(Check check, const std::string& what, bool fatal);

// An access made by kernel code (hooks.cpp).
void hook_access(const void* p, size_t n, Access access);

// Device memory (memory.cpp): an access made by a kernel: 0 fine, 1 a read of bytes never
// written (initcheck), 2 outside any live allocation or misaligned (memcheck); `problem` says
// which.
int device_access(uintptr_t a, size_t bytes, Access access, std::string* problem);
// True when [a, a + n) lies in a loaded binary's segments (globals, constants, string tables).
bool in_loaded_image(uintptr_t a, size_t n);
// The stacks of this host thread's emulated threads: [lo, hi).
std::pair<char*, char*> stack_pool_range();

}  // namespace simt::emu

namespace simt::emu {
// Device allocations (memory.cpp).
void* device_malloc(size_t bytes);  // null when the arena is exhausted
bool device_free_block(void* p, std::string* problem);
size_t device_live_bytes();
size_t device_malloc_count();
void copy_shadow(void* dst, const void* src, size_t bytes);
// Like check_device_range, without initcheck (a copy may move bytes never written); a host
// pointer is reported.
bool check_device_allocated(const void* p, size_t bytes, const char* who);
}  // namespace simt::emu
