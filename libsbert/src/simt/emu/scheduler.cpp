// SIMT emulator: runs a grid on the CPU. Blocks run one after another; the threads of a block
// are fibers (Boost.Context) on the calling host thread, each run until it reaches a barrier,
// a warp collective or its end. A barrier releases when every live thread of the block has
// reached it; a warp collective completes when every lane of its mask has reached it. Threads
// run in a fixed order, so an emulated run is deterministic.
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "simt/emu/runtime_state.h"
#include "simt/emu/state.h"

namespace simt::emu {

namespace ctx = boost::context;

thread_local Current tl_current;


namespace {


// Stacks of the emulated threads of this host thread: one reservation, a guard page at the
// bottom of each stack, reused by every block.
struct StackPool {
  char* base = nullptr;
  StackPool() {
    const size_t bytes = kMaxThreads * kStackBytes;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base = static_cast<char*>(p);
    for (size_t i = 0; i < kMaxThreads; ++i) mprotect(base + i * kStackBytes, 4096, PROT_NONE);
  }
  ~StackPool() { munmap(base, kMaxThreads * kStackBytes); }
};
StackPool& stack_pool() {
  thread_local StackPool pool;
  return pool;
}

struct SharedArena {
  alignas(256) char bytes[kSharedOptin];
  SharedWord shadow[kSharedOptin / 4];
};
SharedArena& arena() {
  thread_local auto a = std::make_unique<SharedArena>();
  return *a;
}

// Fibers live on preallocated stacks: nothing to allocate or free.
struct NoAlloc {
  ctx::stack_context allocate() { throw std::bad_alloc(); }
  void deallocate(ctx::stack_context&) noexcept {}
};

std::string dim_str(const uint3& d) {
  std::ostringstream s;
  s << "(" << d.x << "," << d.y << "," << d.z << ")";
  return s.str();
}

const char* coll_name(Coll k) {
  switch (k) {
    case Coll::Sync: return "__syncwarp";
    case Coll::ShflIdx: return "__shfl_sync";
    case Coll::ShflUp: return "__shfl_up_sync";
    case Coll::ShflDown: return "__shfl_down_sync";
    case Coll::ShflXor: return "__shfl_xor_sync";
    case Coll::Ballot: return "__ballot_sync";
    case Coll::Any: return "__any_sync";
    case Coll::All: return "__all_sync";
    case Coll::MatchAny: return "__match_any_sync";
    case Coll::Combine: return "warp-wide instruction (mma/ldmatrix)";
  }
  return "?";
}

// Switches from the running emulated thread back to the scheduler.
void yield(Lane& l) {
  l.back = std::move(l.back).resume();
  tl_current.lane = &l;
}

void release_barrier(Block& b) {
  const Lane* first = nullptr;
  for (Lane& l : b.lanes) {
    if (l.state != LaneState::AtBarrier) continue;
    if (!first) {
      first = &l;
    } else if (l.wait_file != first->wait_file || l.wait_line != first->wait_line) {
      // Different __syncthreads() reached by threads of one block: a divergent barrier.
      kernel_report(Check::Synccheck,
                    "divergent __syncthreads: thread " + dim_str(first->tid) + " waits at " +
                        loc(first->wait_file, first->wait_line) + ", thread " + dim_str(l.tid) +
                        " at " + loc(l.wait_file, l.wait_line),
                    false);
      break;
    }
  }
  for (Lane& l : b.lanes) {
    if (l.state == LaneState::AtBarrier) l.state = LaneState::Ready;
  }
  b.at_barrier = 0;
  ++b.epoch;
}

void lane_exited(Block& b, Lane& l) {
  l.state = LaneState::Done;
  --b.live;
  b.warps[l.warp].live &= ~(1u << l.lane);
  if (b.at_barrier > 0 && b.at_barrier == b.live) release_barrier(b);
}

// Computes and hands out the results of a complete collective; returns the caller's.
uint64_t complete(Block& b, Warp& w, Pending& p, int self) {
  const size_t warp_base = static_cast<size_t>(&w - b.warps.data()) * kWarp;
  std::array<uint64_t, kWarp> result{};
  unsigned ballot = 0;
  for (int i = 0; i < kWarp; ++i) {
    if ((p.mask >> i & 1u) && p.value[i]) ballot |= 1u << i;
  }
  for (int i = 0; i < kWarp; ++i) {
    if (!(p.mask >> i & 1u)) continue;
    const int wdt = p.width, seg = i & ~(wdt - 1), a = p.arg[i];
    int src = i;
    switch (p.kind) {
      case Coll::ShflIdx: src = seg + (a & (wdt - 1)); break;
      case Coll::ShflUp: src = (i - seg) - a >= 0 ? i - a : i; break;
      case Coll::ShflDown: src = (i - seg) + a < wdt ? i + a : i; break;
      case Coll::ShflXor: src = (i ^ a) < seg + wdt ? (i ^ a) : i; break;
      default: break;
    }
    switch (p.kind) {
      case Coll::ShflIdx:
      case Coll::ShflUp:
      case Coll::ShflDown:
      case Coll::ShflXor:
        if (src < 0 || src >= kWarp || !(p.mask >> src & 1u)) {
          const Lane& l = b.lanes[warp_base + static_cast<size_t>(i)];
          kernel_report(Check::Synccheck,
                        std::string(coll_name(p.kind)) + " at " + loc(p.file, p.line) + ": lane " +
                            std::to_string(i) + " (thread " + dim_str(l.tid) + ") reads lane " +
                            std::to_string(src) + ", which is outside the mask " + hex(p.mask),
                        true);
        }
        result[i] = p.value[src];
        break;
      case Coll::Ballot: result[i] = ballot; break;
      case Coll::Any: result[i] = ballot != 0; break;
      case Coll::All: result[i] = ballot == p.mask; break;
      case Coll::MatchAny: {
        unsigned m = 0;
        for (int j = 0; j < kWarp; ++j) {
          if ((p.mask >> j & 1u) && p.value[j] == p.value[i]) m |= 1u << j;
        }
        result[i] = m;
        break;
      }
      case Coll::Sync: break;
      case Coll::Combine: break;
    }
  }
  if (p.kind == Coll::Combine) {
    void* lanes[kWarp] = {};
    for (int i = 0; i < kWarp; ++i) {
      if (p.mask >> i & 1u) lanes[i] = reinterpret_cast<void*>(p.value[static_cast<size_t>(i)]);
    }
    w.combine(lanes, p.mask, w.combine_ctx);
  }
  const uint32_t id = ++w.collectives;
  for (int i = 0; i < kWarp; ++i) {
    if (!(p.mask >> i & 1u)) continue;
    for (int j = 0; j < kWarp; ++j) {
      if (p.mask >> j & 1u) w.last_shared[i][j] = id;
    }
  }
  for (int i = 0; i < kWarp; ++i) {
    if (!(p.mask >> i & 1u) || i == self) continue;
    Lane& l = b.lanes[warp_base + static_cast<size_t>(i)];
    l.coll_result = result[i];
    l.state = LaneState::Ready;
  }
  return result[self];
}

// Why no thread can go on: one line.
std::string deadlock(const Block& b) {
  std::ostringstream s;
  s << "deadlock:";
  int at_bar = 0;
  const Lane* bar = nullptr;
  for (const Lane& l : b.lanes) {
    if (l.state == LaneState::AtBarrier) {
      ++at_bar;
      if (!bar) bar = &l;
    }
  }
  if (bar) {
    s << " " << at_bar << " of " << b.live << " live threads wait at __syncthreads ("
      << loc(bar->wait_file, bar->wait_line) << ");";
  }
  for (size_t wi = 0; wi < b.warps.size(); ++wi) {
    for (const Pending& p : b.warps[wi].pending) {
      const unsigned missing = p.mask & ~p.arrived;
      s << " warp " << wi << " waits in " << coll_name(p.kind) << " (" << loc(p.file, p.line)
        << ", mask " << hex(p.mask) << ") for lanes " << hex(missing);
      if (missing & ~b.warps[wi].live) s << ", of which " << hex(missing & ~b.warps[wi].live) << " exited";
      s << ";";
    }
  }
  return s.str();
}

void run_block(Exec& e, const uint3& idx) {
  const KernelLaunch& k = *e.launch;
  Block& b = e.block;
  const unsigned n = k.block.x * k.block.y * k.block.z;
  b.idx = idx;
  b.serial = next_block_serial();
  b.lanes.clear();
  b.lanes.resize(n);
  b.warps.assign((n + kWarp - 1) / kWarp, Warp{});
  b.live = static_cast<int>(n);
  b.at_barrier = 0;
  b.epoch = 0;
  b.static_used = 0;
  b.static_decls.clear();
  b.races_reported = 0;
  // Shared memory starts as garbage on a GPU; NaN bytes make a read before a write visible.
  std::memset(e.shared, 0xff, e.shared_high);

  char* stacks = stack_pool().base;
  for (unsigned i = 0; i < n; ++i) {
    Lane& l = b.lanes[i];
    l.tid = {i % k.block.x, (i / k.block.x) % k.block.y, i / (k.block.x * k.block.y)};
    l.linear = static_cast<int>(i);
    l.warp = static_cast<int>(i / kWarp);
    l.lane = static_cast<int>(i % kWarp);
    b.warps[static_cast<size_t>(l.warp)].live |= 1u << l.lane;
    l.stack_lo = stacks + i * kStackBytes;
    l.stack_hi = l.stack_lo + kStackBytes;
    ctx::stack_context sc;
    sc.size = kStackBytes - 4096;
    sc.sp = l.stack_hi;
    Lane* lp = &l;
    Exec* ep = &e;
    l.self = ctx::fiber(std::allocator_arg, ctx::preallocated(sc.sp, sc.size, sc), NoAlloc{},
                        [lp, ep](ctx::fiber&& back) {
                          lp->back = std::move(back);
                          tl_current.lane = lp;
                          try {
                            ep->launch->body(ep->launch->params);
                          } catch (const KernelFault&) {
                            ep->aborted = true;
                          } catch (const std::exception& ex) {
                            kernel_report(Check::Launch,
                                          std::string("exception in the kernel: ") + ex.what(),
                                          false);
                            ep->aborted = true;
                          }
                          lane_exited(ep->block, *lp);
                          return std::move(lp->back);
                        });
  }

  for (;;) {
    bool ran = false;
    for (Lane& l : b.lanes) {
      if (l.state != LaneState::Ready || !l.self) continue;
      tl_current.lane = &l;
      l.self = std::move(l.self).resume();
      tl_current.lane = nullptr;
      ran = true;
      if (e.aborted) break;
    }
    if (e.aborted || b.live == 0) break;
    if (!ran) {
      tl_current.lane = &b.lanes[0];
      for (Lane& l : b.lanes) {
        if (l.state != LaneState::Done) {
          tl_current.lane = &l;
          break;
        }
      }
      try {
        kernel_report(Check::Synccheck, deadlock(b), true);
      } catch (const KernelFault&) {
      }
      tl_current.lane = nullptr;
      e.aborted = true;
      break;
    }
  }
  // Threads still suspended (after a fault or a deadlock) are unwound.
  for (Lane& l : b.lanes) l.self = ctx::fiber();
  e.shared_high = std::max(e.shared_high, e.dynamic_bytes + b.static_used);
}

std::string launch_problem(const KernelLaunch& k, size_t attr) {
  std::ostringstream s;
  const uint64_t threads = uint64_t{k.block.x} * k.block.y * k.block.z;
  if (threads == 0 || k.grid.x == 0 || k.grid.y == 0 || k.grid.z == 0) {
    s << "empty grid " << dim_str(k.grid) << " or block " << dim_str(k.block);
  } else if (threads > kMaxThreads || k.block.x > 1024 || k.block.y > 1024 || k.block.z > 64) {
    s << "block " << dim_str(k.block) << " has " << threads
      << " threads (at most 1024; x, y <= 1024, z <= 64)";
  } else if (k.grid.x > 2147483647u || k.grid.y > 65535u || k.grid.z > 65535u) {
    s << "grid " << dim_str(k.grid) << " exceeds (2^31-1, 65535, 65535)";
  } else if (k.smem > attr) {
    s << k.smem << " bytes of dynamic shared memory requested, " << attr << " allowed ("
      << (attr == kSharedDefault
              ? "48 KiB without cudaFuncAttributeMaxDynamicSharedMemorySize"
              : "the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize")
      << ")";
  } else if (k.param_bytes > kMaxParamBytes) {
    s << "kernel parameters of " << k.param_bytes << " bytes (at most " << kMaxParamBytes << ")";
  }
  return s.str();
}

}  // namespace

char* shared_arena() { return arena().bytes; }
SharedWord* shared_shadow() { return arena().shadow; }
std::pair<char*, char*> stack_pool_range() {
  char* b = stack_pool().base;
  return {b, b + kMaxThreads * kStackBytes};
}

std::string where() {
  const Exec* e = tl_current.exec;
  const Lane* l = tl_current.lane;
  std::string s = "kernel ";
  s += e && e->launch ? e->launch->name : "?";
  if (e) s += " block " + dim_str(e->block.idx);
  if (l) s += " thread " + dim_str(l->tid);
  return s;
}

void kernel_report(Check check, const std::string& what, bool fatal) {
  report(check, std::string("[") + check_name(check) + "] " + where() + ": " + what);
  if (Exec* e = tl_current.exec) {
    if (e->error == cudaSuccess) {
      e->error = check == Check::Memcheck ? cudaErrorIllegalAddress : cudaErrorLaunchFailure;
    }
  }
  if (fatal) throw KernelFault{};
}

void run(const KernelLaunch& k) {
  const size_t attr = kernel_smem_attribute(k.kernel);
  const std::string bad = launch_problem(k, attr);
  if (!bad.empty()) {
    report(Check::Launch, std::string("[launch] kernel ") + k.name + ": " + bad);
    set_error(k.smem > attr || k.param_bytes > kMaxParamBytes ? cudaErrorInvalidValue
                                                              : cudaErrorInvalidConfiguration);
    return;
  }
  std::lock_guard<std::mutex> lock(execution_lock());
  Exec e;
  e.launch = &k;
  e.shared = shared_arena();
  e.shadow = shared_shadow();
  e.dynamic_bytes = k.smem;
  e.shared_limit = attr > kSharedDefault ? kSharedOptin : kSharedDefault;
  e.shared_high = 0;
  tl_current.exec = &e;
  for (unsigned z = 0; z < k.grid.z && !e.aborted; ++z) {
    for (unsigned y = 0; y < k.grid.y && !e.aborted; ++y) {
      for (unsigned x = 0; x < k.grid.x && !e.aborted; ++x) run_block(e, {x, y, z});
    }
  }
  tl_current.exec = nullptr;
  if (e.error != cudaSuccess) set_error(e.error);
}

// ---- what kernels call ------------------------------------------------------------------------

uint3 thread_idx() { return tl_current.lane->tid; }
uint3 block_idx() { return tl_current.exec->block.idx; }
dim3 block_dim() { return tl_current.exec->launch->block; }
dim3 grid_dim() { return tl_current.exec->launch->grid; }

void syncthreads(const char* file, int line) {
  Lane& l = *tl_current.lane;
  Block& b = tl_current.exec->block;
  l.wait_file = file;
  l.wait_line = line;
  l.state = LaneState::AtBarrier;
  if (++b.at_barrier == b.live) {
    release_barrier(b);
    return;
  }
  yield(l);
}

uint64_t warp_collective(Coll kind, unsigned mask, uint64_t value, int arg, int width,
                         const char* file, int line) {
  Lane& l = *tl_current.lane;
  Block& b = tl_current.exec->block;
  Warp& w = b.warps[static_cast<size_t>(l.warp)];
  const unsigned bit = 1u << l.lane;
  const std::string call = std::string(coll_name(kind)) + " at " + loc(file, line);
  if (!(mask & bit)) {
    kernel_report(Check::Synccheck,
                  call + ": mask " + hex(mask) + " does not include the calling lane " +
                      std::to_string(l.lane),
                  true);
  }
  if (width <= 0 || width > kWarp || (width & (width - 1)) != 0) {
    kernel_report(Check::Synccheck, call + ": width " + std::to_string(width) +
                                        " is not a power of two up to 32", true);
  }
  const unsigned gone = mask & ~w.live;
  if (gone) {
    kernel_report(Check::Synccheck,
                  call + ": mask " + hex(mask) + " names lanes " + hex(gone) +
                      " that have exited or do not exist",
                  true);
  }
  Pending* p = nullptr;
  for (Pending& q : w.pending) {
    if (!(q.mask & mask)) continue;
    if (q.mask != mask || q.kind != kind) {
      kernel_report(Check::Synccheck,
                    call + " with mask " + hex(mask) + " while lanes " + hex(q.arrived) +
                        " wait in " + coll_name(q.kind) + " at " + loc(q.file, q.line) +
                        " with mask " + hex(q.mask),
                    true);
    }
    p = &q;
    break;
  }
  if (!p) {
    w.pending.push_back(Pending{kind, mask, 0, width, {}, {}, file, line});
    p = &w.pending.back();
  }
  p->value[static_cast<size_t>(l.lane)] = value;
  p->arg[static_cast<size_t>(l.lane)] = arg;
  p->arrived |= bit;
  if (p->arrived == p->mask) {
    Pending done = *p;
    w.pending.erase(w.pending.begin() + (p - w.pending.data()));
    return complete(b, w, done, l.lane);
  }
  l.wait_file = file;
  l.wait_line = line;
  l.state = LaneState::AtWarp;
  yield(l);
  return l.coll_result;
}

void warp_combine(unsigned mask, void* mine, Combine combine, const void* ctx, const char* op,
                  const char* file, int line) {
  // The collective carries each lane's buffer pointer as its value; the combine runs in the
  // lane that completes it, while every other lane of the mask is suspended in it.
  Lane& l = *tl_current.lane;
  Warp& w = tl_current.exec->block.warps[static_cast<size_t>(l.warp)];
  (void)op;
  w.combine = combine;
  w.combine_ctx = ctx;
  warp_collective(Coll::Combine, mask, reinterpret_cast<uint64_t>(mine), 0, 32, file, line);
}

void lane_access(int lane, const void* p, size_t bytes, bool write) {
  Lane* self = tl_current.lane;
  Block& b = tl_current.exec->block;
  tl_current.lane = &b.lanes[static_cast<size_t>(self->warp * kWarp + lane)];
  hook_access(p, bytes, write ? Access::Write : Access::Read);
  tl_current.lane = self;
}

unsigned active_mask() { return tl_current.exec->block.warps[static_cast<size_t>(tl_current.lane->warp)].live; }

void* static_shared_bytes(const void* tag, size_t bytes, size_t align, const char* name) {
  Exec& e = *tl_current.exec;
  Block& b = e.block;
  for (const auto& [t, off] : b.static_decls) {
    if (t == tag) return e.shared + off;
  }
  const size_t base = (e.dynamic_bytes + 15) / 16 * 16;
  const size_t off = (base + b.static_used + align - 1) / align * align;
  const size_t static_bytes = off + bytes - base;
  if (static_bytes > kSharedDefault || off + bytes > e.shared_limit) {
    kernel_report(Check::Launch,
                  "static shared memory '" + std::string(name) + "' (" + std::to_string(bytes) +
                      " bytes) brings the block to " + std::to_string(static_bytes) +
                      " static + " + std::to_string(e.dynamic_bytes) + " dynamic bytes, over " +
                      std::to_string(e.shared_limit),
                  true);
  }
  b.static_used = static_bytes;
  b.static_decls.emplace_back(tag, off);
  return e.shared + off;
}

void* dynamic_shared_bytes() { return tl_current.exec->shared; }

}  // namespace simt::emu
