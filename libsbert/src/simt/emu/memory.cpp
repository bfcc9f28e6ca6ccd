// SIMT emulator: device memory. Allocations come from one reserved arena, so "is this a device
// address" is a range test, and a shadow byte per byte says what each byte is: never allocated
// (the redzone after every allocation included), freed, allocated but never written, written.
// That is what compute-sanitizer's memcheck and initcheck know on a GPU. Freed blocks stay
// poisoned in a quarantine before their addresses are reused, so a use after free is caught.
#include <link.h>
#include <sys/mman.h>

#include <cstring>
#include <deque>
#include <map>
#include <sstream>

#include "simt/emu/state.h"

namespace simt::emu {

namespace {

enum Shadow : uint8_t { kUnaddressable = 0, kFreed = 1, kUninit = 2, kInit = 3 };

constexpr size_t kArenaBytes = size_t{64} << 30;  // address space only (MAP_NORESERVE)
constexpr size_t kAlign = 256;                    // cudaMalloc's alignment
constexpr size_t kRedzone = 256;
constexpr size_t kQuarantineBytes = size_t{256} << 20;

struct Allocation {
  size_t bytes = 0, span = 0;  // span: bytes + padding + redzone
  bool freed = false;
};

struct Arena {
  std::mutex mu;
  char* data = nullptr;
  uint8_t* shadow = nullptr;
  size_t bump = 0;
  size_t live_bytes = 0;
  size_t mallocs = 0;  // successful device_malloc calls (simt_device_malloc_count)
  std::map<uintptr_t, Allocation> blocks;          // live and quarantined, by address
  std::deque<uintptr_t> quarantine;
  size_t quarantined = 0;
  std::multimap<size_t, uintptr_t> reusable;       // span -> address

  Arena() {
    void* d = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void* s = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (d == MAP_FAILED || s == MAP_FAILED) throw std::bad_alloc();
    data = static_cast<char*>(d);
    shadow = static_cast<uint8_t*>(s);
  }
  uint8_t* shadow_of(uintptr_t a) { return shadow + (a - reinterpret_cast<uintptr_t>(data)); }
};

// The emulated device's memory is process-wide, as a device's is.
Arena& arena() {
  static Arena a;
  return a;
}

void release(Arena& ar, uintptr_t at, const Allocation& b) {
  std::memset(ar.shadow_of(at), kUnaddressable, b.span);
  // Give the pages back (whole pages inside the span only).
  const uintptr_t lo = (at + 4095) / 4096 * 4096, hi = (at + b.span) / 4096 * 4096;
  if (hi > lo) {
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    madvise(ar.shadow_of(lo), hi - lo, MADV_DONTNEED);
  }
  ar.reusable.emplace(b.span, at);
}

// "12 bytes past the end of the 1024-byte allocation at 0x..." for an address outside any live
// allocation. Caller holds the lock.
std::string describe(Arena& ar, uintptr_t a) {
  auto it = ar.blocks.upper_bound(a);
  if (it != ar.blocks.begin()) {
    --it;
    const uintptr_t base = it->first;
    const Allocation& b = it->second;
    if (a < base + b.span) {
      if (b.freed && a < base + b.bytes) {
        return "use after free: offset " + std::to_string(a - base) + " of the " +
               std::to_string(b.bytes) + "-byte allocation at " + hex(base) +
               ", which was freed";
      }
      return std::to_string(a - (base + b.bytes)) + " bytes past the end of the " +
             std::to_string(b.bytes) + "-byte allocation at " + hex(base) +
             (b.freed ? " (freed)" : "");
    }
  }
  return "not inside any device allocation";
}

}  // namespace

bool is_device_address(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  const auto base = reinterpret_cast<uintptr_t>(arena().data);
  return a >= base && a < base + kArenaBytes;
}

int device_access(uintptr_t a, size_t n, Access acc, std::string* problem) {
  Arena& ar = arena();
  if (n > 1 && n <= 16 && (n & (n - 1)) == 0 && a % n != 0) {
    *problem = "misaligned " + std::to_string(n) + "-byte " +
               (acc == Access::Write ? "write" : "read") + " at " + hex(a);
    return 2;
  }
  uint8_t* s = ar.shadow_of(a);
  bool all_init = true, all_alloc = true;
  for (size_t i = 0; i < n; ++i) {
    all_init &= s[i] == kInit;
    all_alloc &= s[i] >= kUninit;
  }
  if (all_init) return 0;
  if (all_alloc) {
    if (acc == Access::Write) {
      std::memset(s, kInit, n);
      return 0;
    }
    std::lock_guard<std::mutex> lock(ar.mu);
    auto it = --ar.blocks.upper_bound(a);
    *problem = "read of " + std::to_string(n) + " bytes at " + hex(a) + " (offset " +
               std::to_string(a - it->first) + " of the " + std::to_string(it->second.bytes) +
               "-byte allocation at " + hex(it->first) + ") that were never written";
    return 1;
  }
  size_t bad = 0;
  while (bad < n && s[bad] >= kUninit) ++bad;
  std::lock_guard<std::mutex> lock(ar.mu);
  *problem = std::string(acc == Access::Write ? "write" : "read") + " of " + std::to_string(n) +
             " bytes at " + hex(a) + ": " + describe(ar, a + bad);
  return 2;
}

bool check_device_allocated(const void* p, size_t bytes, const char* who) {
  if (bytes == 0) return true;
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (!is_device_address(p)) {
    report(Check::Memcheck, std::string("[memcheck] ") + who + ": " + hex(a) +
                                " is not a device pointer (host memory?)");
    set_error(cudaErrorIllegalAddress);  // what a kernel reading it does on a GPU
    return false;
  }
  Arena& ar = arena();
  const uint8_t* s = ar.shadow_of(a);
  size_t i = 0;
  while (i < bytes && s[i] >= kUninit) ++i;
  if (i == bytes) return true;
  std::lock_guard<std::mutex> lock(ar.mu);
  report(Check::Memcheck, std::string("[memcheck] ") + who + ": " + std::to_string(bytes) +
                              " bytes at " + hex(a) + ": byte " + std::to_string(i) + " is " +
                              describe(ar, a + i));
  set_error(cudaErrorIllegalAddress);
  return false;
}

bool check_device_range(const void* p, size_t bytes, Access access, const char* who) {
  if (bytes == 0) return true;
  if (!check_device_allocated(p, bytes, who)) return false;
  uint8_t* s = arena().shadow_of(reinterpret_cast<uintptr_t>(p));
  if (access == Access::Write) {
    std::memset(s, kInit, bytes);
    return true;
  }
  size_t i = 0;
  while (i < bytes && s[i] == kInit) ++i;
  if (i < bytes) {
    report(Check::Initcheck, std::string("[initcheck] ") + who + ": " + std::to_string(bytes) +
                                 " bytes at " + hex(reinterpret_cast<uintptr_t>(p)) + ": byte " +
                                 std::to_string(i) + " was never written");
    set_error(cudaErrorLaunchFailure);
    return false;
  }
  return true;
}

// ---- allocation (runtime.cpp's cudaMalloc / cudaFree) -----------------------------------------

void* device_malloc(size_t bytes) {
  Arena& ar = arena();
  std::lock_guard<std::mutex> lock(ar.mu);
  const size_t span = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign + kRedzone;
  uintptr_t at = 0;
  auto it = ar.reusable.lower_bound(span);
  if (it != ar.reusable.end()) {
    at = it->second;
    const size_t have = it->first;
    ar.reusable.erase(it);
    if (have - span >= kAlign + kRedzone) ar.reusable.emplace(have - span, at + span);
  } else {
    if (ar.bump + span > kArenaBytes) return nullptr;
    at = reinterpret_cast<uintptr_t>(ar.data) + ar.bump;
    ar.bump += span;
  }
  ar.blocks[at] = Allocation{bytes, span, false};
  ar.live_bytes += bytes;
  ++ar.mallocs;
  std::memset(ar.shadow_of(at), kUninit, bytes);
  std::memset(ar.shadow_of(at) + bytes, kUnaddressable, span - bytes);
  // cudaMalloc returns garbage; all-ones bytes are NaN as floats, so a read before a write
  // also shows in the numbers.
  std::memset(reinterpret_cast<void*>(at), 0xff, bytes);
  return reinterpret_cast<void*>(at);
}

// False (and nothing changed) when p is not the start of a live allocation.
bool device_free_block(void* p, std::string* problem) {
  Arena& ar = arena();
  std::lock_guard<std::mutex> lock(ar.mu);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = ar.blocks.find(a);
  if (it == ar.blocks.end() || it->second.freed) {
    *problem = it == ar.blocks.end() ? "cudaFree(" + hex(a) + "): not the start of a device allocation (" +
                                           describe(ar, a) + ")"
                                     : "cudaFree(" + hex(a) + "): freed twice";
    return false;
  }
  Allocation& b = it->second;
  b.freed = true;
  ar.live_bytes -= b.bytes;
  std::memset(ar.shadow_of(a), kFreed, b.bytes);
  ar.quarantine.push_back(a);
  ar.quarantined += b.span;
  while (ar.quarantined > kQuarantineBytes && !ar.quarantine.empty()) {
    const uintptr_t old = ar.quarantine.front();
    ar.quarantine.pop_front();
    auto o = ar.blocks.find(old);
    ar.quarantined -= o->second.span;
    release(ar, old, o->second);
    ar.blocks.erase(o);
  }
  return true;
}

size_t device_live_bytes() {
  Arena& ar = arena();
  std::lock_guard<std::mutex> lock(ar.mu);
  return ar.live_bytes;
}

size_t device_malloc_count() {
  Arena& ar = arena();
  std::lock_guard<std::mutex> lock(ar.mu);
  return ar.mallocs;
}

// Copies the shadow with the bytes (device-to-device copies keep "never written").
void copy_shadow(void* dst, const void* src, size_t bytes) {
  Arena& ar = arena();
  std::memmove(ar.shadow_of(reinterpret_cast<uintptr_t>(dst)),
               ar.shadow_of(reinterpret_cast<uintptr_t>(src)), bytes);
}

// ---- the segments of loaded binaries (a kernel may read a binary's globals and constants) --

namespace {
struct Segments {
  std::mutex mu;
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  void scan() {
    ranges.clear();
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          auto* r = static_cast<std::vector<std::pair<uintptr_t, uintptr_t>>*>(out);
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const auto& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD) continue;
            const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
            r->emplace_back(lo, lo + ph.p_memsz);
          }
          return 0;
        },
        &ranges);
  }
  bool contains(uintptr_t a, size_t n) const {
    for (const auto& [lo, hi] : ranges) {
      if (a >= lo && a + n <= hi) return true;
    }
    return false;
  }
};
Segments& segments() {
  static Segments s;
  return s;
}
}  // namespace

bool in_loaded_image(uintptr_t a, size_t n) {
  Segments& s = segments();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.contains(a, n)) return true;
  s.scan();  // a library loaded since the last look
  return s.contains(a, n);
}

}  // namespace simt::emu
