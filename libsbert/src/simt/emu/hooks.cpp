// SIMT emulator: every load and store of an emulated kernel. The .cu sources are compiled with
// -fsanitize=thread, which makes the compiler call __tsan_readN / __tsan_writeN before each
// memory access; this file defines those entry points itself (libtsan is never linked). On a
// host thread with no kernel running they return at once; inside a kernel they classify the
// address (the thread's own stack, the block's shared memory, device memory, the kernel's
// parameters, a loaded binary's globals, or anything else: host memory) and apply memcheck,
// initcheck and the shared-memory race detector.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "simt/emu/state.h"


namespace simt::emu {

namespace {

std::string tid_of(const Block& b, int32_t linear) {
  const uint3& t = b.lanes[static_cast<size_t>(linear)].tid;
  return "(" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}

// An access of thread `t` (block epoch `epoch`, its warp's collective count `coll`) is ordered
// before the current thread's access when it is the same thread, a __syncthreads completed
// since, or both lanes took part in a warp collective since (Volta+: lanes of a warp are not
// implicitly synchronous; only __syncwarp, shuffles and votes order them).
bool ordered(const Block& b, const Lane& me, int32_t t, uint32_t epoch, uint32_t coll) {
  if (t < 0 || t == me.linear) return true;
  if (epoch != b.epoch) return true;
  if (t / kWarp != me.warp) return false;
  const Warp& w = b.warps[static_cast<size_t>(me.warp)];
  return w.last_shared[static_cast<size_t>(t % kWarp)][static_cast<size_t>(me.lane)] > coll;
}

void race(Exec& e, const Lane& me, size_t offset, size_t n, const char* mine, const char* theirs,
          int32_t other, const char* hazard) {
  Block& b = e.block;
  if (b.races_reported++ >= 2) return;  // the first two of a block say enough
  kernel_report(Check::Racecheck,
                std::string(mine) + " of shared memory at offset " + hex(offset) + " (" +
                    std::to_string(n) + " bytes) and a " + theirs + " by thread " +
                    tid_of(b, other) +
                    " with no __syncthreads (or, within a warp, __syncwarp) in between: " +
                    hazard + " hazard",
                false);
  (void)me;
}

void shared_access(Exec& e, Lane& me, size_t off, size_t n, Access acc) {
  const size_t static_base = (e.dynamic_bytes + 15) / 16 * 16;
  const size_t limit = e.block.static_used ? static_base + e.block.static_used : e.dynamic_bytes;
  if (off + n > limit) {
    kernel_report(Check::Memcheck,
                  std::string(acc == Access::Write ? "write" : "read") + " of " +
                      std::to_string(n) + " bytes at shared memory offset " + hex(off) +
                      ", past the block's " + std::to_string(limit) + " bytes of shared memory",
                  true);
  }
  if (n > 1 && (off % n) != 0 && n <= 16) {
    kernel_report(Check::Memcheck,
                  "misaligned " + std::to_string(n) + "-byte access at shared memory offset " +
                      hex(off),
                  true);
  }
  Block& b = e.block;
  Warp& w = b.warps[static_cast<size_t>(me.warp)];
  SharedWord* shadow = e.shadow;
  for (size_t word = off / 4; word <= (off + n - 1) / 4; ++word) {
    SharedWord& s = shadow[word];
    if (s.serial != b.serial) {
      s = SharedWord{};
      s.serial = b.serial;
    }
    const size_t lo = std::max(off, word * 4), hi = std::min(off + n, word * 4 + 4);
    const auto m = static_cast<uint8_t>(((1u << (hi - lo)) - 1u) << (lo - word * 4));
    if (acc == Access::Read) {
      if ((s.w_mask & m) && !ordered(b, me, s.writer, s.w_epoch, s.w_coll)) {
        race(e, me, off, n, "read", "write", s.writer, "read-after-write");
      }
      if (s.reader[0] == me.linear) {
        s.r_mask[0] |= m;
      } else {
        s.reader[1] = s.reader[0], s.r_epoch[1] = s.r_epoch[0], s.r_coll[1] = s.r_coll[0];
        s.r_mask[1] = s.r_mask[0];
        s.reader[0] = me.linear, s.r_mask[0] = m;
      }
      s.r_epoch[0] = b.epoch, s.r_coll[0] = w.collectives;
    } else {
      if ((s.w_mask & m) && !ordered(b, me, s.writer, s.w_epoch, s.w_coll)) {
        race(e, me, off, n, "write", "write", s.writer, "write-after-write");
      }
      for (int r = 0; r < 2; ++r) {
        if ((s.r_mask[r] & m) && !ordered(b, me, s.reader[r], s.r_epoch[r], s.r_coll[r])) {
          race(e, me, off, n, "write", "read", s.reader[r], "write-after-read");
          break;
        }
      }
      if (s.writer == me.linear && s.w_epoch == b.epoch && s.w_coll == w.collectives) {
        s.w_mask |= m;
      } else {
        s.writer = me.linear, s.w_epoch = b.epoch, s.w_coll = w.collectives, s.w_mask = m;
      }
      for (int r = 0; r < 2; ++r) {
        s.r_mask[r] &= static_cast<uint8_t>(~m);
        if (!s.r_mask[r]) s.reader[r] = -1;
      }
    }
  }
}

// race_free: atomics (never a hazard with each other).
void on_access_impl(const void* p, size_t n, Access acc, bool race_free = false) {
  Lane* me = current_lane();
  if (!me) return;
  Exec& e = *current_exec();
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (a >= reinterpret_cast<uintptr_t>(me->stack_lo) &&
      a + n <= reinterpret_cast<uintptr_t>(me->stack_hi)) {
    return;
  }
  const auto sh = reinterpret_cast<uintptr_t>(e.shared);
  if (a >= sh && a < sh + kSharedOptin) {
    if (race_free) {
      shared_access(e, *me, a - sh, n, Access::Read);  // bounds; atomics do not race
      return;
    }
    shared_access(e, *me, a - sh, n, acc);
    return;
  }
  if (is_device_address(p)) {
    std::string problem;
    const int r = device_access(a, n, acc, &problem);
    if (r != 0) kernel_report(r == 1 ? Check::Initcheck : Check::Memcheck, problem, r == 2);
    return;
  }
  const auto params = reinterpret_cast<uintptr_t>(e.launch->params);
  const size_t pbytes = e.launch->param_bytes;
  if (a >= params && a + n <= params + pbytes) return;
  if (a + n > params && a < params + pbytes + 256) {
    kernel_report(Check::Memcheck,
                  "read of " + std::to_string(n) + " bytes at offset " +
                      std::to_string(a - params) + " of the kernel's " + std::to_string(pbytes) +
                      " bytes of parameters: past the arguments it was given",
                  true);
  }
  const auto [slo, shi] = stack_pool_range();
  if (a >= reinterpret_cast<uintptr_t>(slo) && a < reinterpret_cast<uintptr_t>(shi)) {
    kernel_report(Check::Memcheck,
                  std::string(acc == Access::Write ? "write" : "read") + " at " + hex(a) +
                      ": the local memory of another thread",
                  true);
  }
  if (in_loaded_image(a, n)) return;  // globals, constants, string tables of a binary
  kernel_report(Check::Memcheck,
                std::string(acc == Access::Write ? "write" : "read") + " of " + std::to_string(n) +
                    " bytes at " + hex(a) +
                    ": host memory, not device memory (a host pointer passed to a kernel?)",
                true);
}

template <class T>
T atomic_rmw(T* p, T v, T (*op)(T, T)) {
  on_access_impl(p, sizeof(T), Access::Read, true);
  on_access_impl(p, sizeof(T), Access::Write, true);
  const T old = *p;
  *p = op(old, v);
  return old;
}

}  // namespace

void hook_access(const void* p, size_t n, Access acc) { on_access_impl(p, n, acc); }

float atomic_add(float* p, float v) { return atomic_rmw<float>(p, v, [](float a, float b) { return a + b; }); }
double atomic_add(double* p, double v) { return atomic_rmw<double>(p, v, [](double a, double b) { return a + b; }); }
int atomic_add(int* p, int v) { return atomic_rmw<int>(p, v, [](int a, int b) { return static_cast<int>(static_cast<unsigned>(a) + static_cast<unsigned>(b)); }); }
unsigned atomic_add(unsigned* p, unsigned v) { return atomic_rmw<unsigned>(p, v, [](unsigned a, unsigned b) { return a + b; }); }
unsigned long long atomic_add(unsigned long long* p, unsigned long long v) {
  return atomic_rmw<unsigned long long>(p, v, [](unsigned long long a, unsigned long long b) { return a + b; });
}
int atomic_max(int* p, int v) { return atomic_rmw<int>(p, v, [](int a, int b) { return a > b ? a : b; }); }
unsigned atomic_max(unsigned* p, unsigned v) { return atomic_rmw<unsigned>(p, v, [](unsigned a, unsigned b) { return a > b ? a : b; }); }
int atomic_min(int* p, int v) { return atomic_rmw<int>(p, v, [](int a, int b) { return a < b ? a : b; }); }
unsigned atomic_min(unsigned* p, unsigned v) { return atomic_rmw<unsigned>(p, v, [](unsigned a, unsigned b) { return a < b ? a : b; }); }
int atomic_exch(int* p, int v) { return atomic_rmw<int>(p, v, [](int, int b) { return b; }); }
unsigned atomic_exch(unsigned* p, unsigned v) { return atomic_rmw<unsigned>(p, v, [](unsigned, unsigned b) { return b; }); }
float atomic_exch(float* p, float v) { return atomic_rmw<float>(p, v, [](float, float b) { return b; }); }
int atomic_cas(int* p, int compare, int v) {
  on_access_impl(p, sizeof(int), Access::Write, true);
  const int old = *p;
  if (old == compare) *p = v;
  return old;
}
unsigned atomic_cas(unsigned* p, unsigned compare, unsigned v) {
  on_access_impl(p, sizeof(unsigned), Access::Write, true);
  const unsigned old = *p;
  if (old == compare) *p = v;
  return old;
}
unsigned long long atomic_cas(unsigned long long* p, unsigned long long compare,
                              unsigned long long v) {
  on_access_impl(p, sizeof(v), Access::Write, true);
  const unsigned long long old = *p;
  if (old == compare) *p = v;
  return old;
}

}  // namespace simt::emu

// ---- the compiler's hooks (GCC and Clang -fsanitize=thread ABI) -------------------------------
namespace {
using simt::emu::Access;
inline void rd(const void* p, size_t n) { simt::emu::hook_access(p, n, Access::Read); }
inline void wr(const void* p, size_t n) { simt::emu::hook_access(p, n, Access::Write); }
}  // namespace

#define SIMT_HOOK extern "C" SIMT_EMU_API
#define SIMT_RW_HOOKS(N)                                                                      \
  SIMT_HOOK void __tsan_read##N(void* p) { rd(p, N); }                                        \
  SIMT_HOOK void __tsan_write##N(void* p) { wr(p, N); }                                       \
  SIMT_HOOK void __tsan_unaligned_read##N(void* p) { rd(p, N); }                              \
  SIMT_HOOK void __tsan_unaligned_write##N(void* p) { wr(p, N); }                             \
  SIMT_HOOK void __tsan_volatile_read##N(void* p) { rd(p, N); }                               \
  SIMT_HOOK void __tsan_volatile_write##N(void* p) { wr(p, N); }                              \
  SIMT_HOOK void __tsan_unaligned_volatile_read##N(void* p) { rd(p, N); }                     \
  SIMT_HOOK void __tsan_unaligned_volatile_write##N(void* p) { wr(p, N); }
SIMT_RW_HOOKS(1)
SIMT_RW_HOOKS(2)
SIMT_RW_HOOKS(4)
SIMT_RW_HOOKS(8)
SIMT_RW_HOOKS(16)
SIMT_HOOK void __tsan_read_range(void* p, unsigned long n) { rd(p, n); }
SIMT_HOOK void __tsan_write_range(void* p, unsigned long n) { wr(p, n); }
SIMT_HOOK void __tsan_init() {}
SIMT_HOOK void __tsan_func_entry(void*) {}
SIMT_HOOK void __tsan_func_exit() {}
SIMT_HOOK void __tsan_vptr_update(void** p, void*) { wr(p, sizeof(void*)); }
SIMT_HOOK void __tsan_vptr_read(void** p) { rd(p, sizeof(void*)); }
SIMT_HOOK void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
SIMT_HOOK void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// Atomics of host code in the instrumented sources (shared_ptr counts, std::atomic): done for
// real, sequentially consistent (at least as strong as what was asked).
#define SIMT_ATOMIC_HOOKS(N, T)                                                                    \
  SIMT_HOOK T __tsan_atomic##N##_load(const volatile T* a, int) {                                  \
    rd(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                   \
  }                                                                                                \
  SIMT_HOOK void __tsan_atomic##N##_store(volatile T* a, T v, int) {                               \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                      \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_exchange(volatile T* a, T v, int) {                               \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_add(volatile T* a, T v, int) {                              \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                             \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_sub(volatile T* a, T v, int) {                              \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                             \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_and(volatile T* a, T v, int) {                              \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                             \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_or(volatile T* a, T v, int) {                               \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                              \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_xor(volatile T* a, T v, int) {                              \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                             \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_fetch_nand(volatile T* a, T v, int) {                             \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                                \
  SIMT_HOOK int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) {   \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
  }                                                                                                \
  SIMT_HOOK int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, int, int) {     \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
  }                                                                                                \
  SIMT_HOOK T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, int, int) {         \
    wr(const_cast<const T*>(a), sizeof(T));                                                        \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);              \
    return c;                                                                                      \
  }
SIMT_ATOMIC_HOOKS(8, unsigned char)
SIMT_ATOMIC_HOOKS(16, unsigned short)
SIMT_ATOMIC_HOOKS(32, unsigned int)
SIMT_ATOMIC_HOOKS(64, unsigned long long)
