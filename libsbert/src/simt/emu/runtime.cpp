// SIMT emulator: CUDA's runtime API served on the CPU. Streams execute in order at the call
// (a launch or a copy is complete when the call returns), so events are always reached and a
// stream synchronize only reports errors. Errors follow CUDA: each host thread has its last
// error, returned (and cleared) by cudaGetLastError; cudaGetErrorString adds the emulator's
// report of what went wrong (kernel, block, thread, address) to CUDA's text.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <unordered_map>

#include "simt/emu/runtime_state.h"
#include "simt/emu/state.h"

struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point at{};
};

namespace simt::emu {

namespace {

// The emulated device's process-wide state (a device is process-wide too).
struct Device {
  std::mutex mu;
  std::vector<Report> reports;
  size_t total_reports = 0;
  std::unordered_map<const void*, size_t> smem_attr;
  std::set<const void*> streams, events;
  std::mutex exec;
  uint64_t serial = 0;
  int count = 1;
  Device() {
    if (const char* n = std::getenv("SIMT_EMU_DEVICES")) count = std::atoi(n);
  }
};
Device& device() {
  static Device d;
  return d;
}

thread_local cudaError_t tl_error = cudaSuccess;
thread_local std::string tl_detail;  // the first report since the error was last taken
thread_local bool tl_have_detail = false;
thread_local int tl_device = 0;

cudaError_t fail(cudaError_t e, Check check, const std::string& message) {
  report(check, message);
  set_error(e);
  return e;
}

bool known(std::set<const void*>& s, const void* p) {
  std::lock_guard<std::mutex> lock(device().mu);
  return s.count(p) != 0;
}

}  // namespace

const char* check_name(Check c) {
  switch (c) {
    case Check::Memcheck: return "memcheck";
    case Check::Initcheck: return "initcheck";
    case Check::Racecheck: return "racecheck";
    case Check::Synccheck: return "synccheck";
    case Check::Launch: return "launch";
  }
  return "?";
}

void report(Check check, std::string message) {
  Device& d = device();
  {
    std::lock_guard<std::mutex> lock(d.mu);
    ++d.total_reports;
    if (d.reports.size() < kMaxReports) d.reports.push_back(Report{check, message});
  }
  if (!tl_have_detail) {
    tl_detail = std::move(message);
    tl_have_detail = true;
  }
}

std::vector<Report> take_reports(size_t* total) {
  Device& d = device();
  std::lock_guard<std::mutex> lock(d.mu);
  if (total) *total = d.total_reports;
  d.total_reports = 0;
  return std::exchange(d.reports, {});
}

void set_error(cudaError_t e) {
  if (tl_error != cudaSuccess) return;
  tl_error = e;
  if (!tl_have_detail) tl_detail.clear();
}

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::string loc(const char* file, int line) {
  std::string f = file ? file : "?";
  const auto slash = f.rfind('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(line);
}

std::mutex& execution_lock() { return device().exec; }

uint64_t next_block_serial() {
  std::lock_guard<std::mutex> lock(device().mu);
  return ++device().serial;
}

size_t kernel_smem_attribute(const void* kernel) {
  Device& d = device();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.smem_attr.find(kernel);
  return it == d.smem_attr.end() ? kSharedDefault : it->second;
}

}  // namespace simt::emu

using namespace simt::emu;

// ---- errors ------------------------------------------------------------------------------------

cudaError_t cudaGetLastError() {
  const cudaError_t e = tl_error;
  tl_error = cudaSuccess;
  tl_have_detail = false;  // the text stays readable by cudaGetErrorString until the next one
  if (e == cudaSuccess) tl_detail.clear();
  return e;
}

cudaError_t cudaPeekAtLastError() { return tl_error; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  const char* text = "unknown error";
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: text = "invalid argument"; break;
    case cudaErrorMemoryAllocation: text = "out of memory"; break;
    case cudaErrorInvalidConfiguration: text = "invalid configuration argument"; break;
    case cudaErrorInvalidDevicePointer: text = "invalid device pointer"; break;
    case cudaErrorInvalidMemcpyDirection: text = "invalid copy direction for memcpy"; break;
    case cudaErrorNoDevice: text = "no CUDA-capable device is detected"; break;
    case cudaErrorInvalidDevice: text = "invalid device ordinal"; break;
    case cudaErrorInvalidResourceHandle: text = "invalid resource handle"; break;
    case cudaErrorNotReady: text = "device not ready"; break;
    case cudaErrorIllegalAddress: text = "an illegal memory access was encountered"; break;
    case cudaErrorLaunchOutOfResources: text = "too many resources requested for launch"; break;
    case cudaErrorLaunchFailure: text = "unspecified launch failure"; break;
    default: break;
  }
  if (tl_detail.empty()) return text;
  thread_local std::string full;
  full = std::string(text) + " (SIMT emulator: " + tl_detail + ")";
  return full.c_str();
}

// ---- device ------------------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  *count = device().count;
  return device().count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= device().count) return cudaErrorInvalidDevice;
  tl_device = d;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* d) {
  *d = tl_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d < 0 || d >= device().count) return cudaErrorInvalidDevice;
  std::memset(p, 0, sizeof *p);
  std::strncpy(p->name, "SIMT emulator (H100 limits)", sizeof p->name - 1);
  p->totalGlobalMem = size_t{80} << 30;
  p->sharedMemPerBlock = kSharedDefault;
  p->sharedMemPerBlockOptin = kSharedOptin;
  p->sharedMemPerMultiprocessor = 228 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->major = 9, p->minor = 0;
  p->multiProcessorCount = 132;
  p->maxThreadsPerMultiProcessor = 2048;
  p->l2CacheSize = 50 << 20;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaGetLastError(); }
cudaError_t cudaDeviceReset() { return cudaSuccess; }

// ---- memory ------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = device_malloc(bytes);
  if (!*p) return fail(cudaErrorMemoryAllocation, Check::Memcheck,
                       "[memcheck] cudaMalloc(" + std::to_string(bytes) + "): arena exhausted");
  return cudaSuccess;
}

size_t simt_device_malloc_count() { return device_malloc_count(); }

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::string problem;
  if (!device_free_block(p, &problem)) {
    return fail(cudaErrorInvalidValue, Check::Memcheck, "[memcheck] " + problem);
  }
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  // An 80 GB device, or half the host's memory where that is less: the emulated device's
  // memory is the host's, and a caller that plans by what is free (the trainer) must not plan
  // more than the host can give.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const size_t host = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  *total = std::min(size_t{80} << 30, host > 0 ? host / 2 : size_t{80} << 30);
  *free_bytes = *total - std::min(*total, device_live_bytes());
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  const bool dd = is_device_address(dst), sd = is_device_address(src);
  if (kind == cudaMemcpyDefault) {
    kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
              : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  const bool want_dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool want_sd = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dd != want_dd || sd != want_sd) {
    return fail(cudaErrorInvalidValue, Check::Memcheck,
                std::string("[memcheck] cudaMemcpy: the ") + (dd != want_dd ? "destination" : "source") +
                    " pointer is " + ((dd != want_dd ? dd : sd) ? "device" : "host") +
                    " memory but the copy kind says otherwise");
  }
  // The source need only be allocated: copying a partly written buffer is legal.
  if (sd && !check_device_allocated(src, bytes, "cudaMemcpy source")) return cudaErrorIllegalAddress;
  if (dd && !check_device_range(dst, bytes, Access::Write, "cudaMemcpy destination")) {
    return cudaErrorIllegalAddress;
  }
  std::memmove(dst, src, bytes);
  if (dd && sd) copy_shadow(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (!check_device_range(p, bytes, Access::Write, "cudaMemset")) return cudaErrorIllegalAddress;
  std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(p, value, bytes);
}

// ---- streams and events ------------------------------------------------------------------------

cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  *s = new CUstream_st{flags};
  std::lock_guard<std::mutex> lock(device().mu);
  device().streams.insert(*s);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  {
    std::lock_guard<std::mutex> lock(device().mu);
    if (!device().streams.erase(s)) return cudaErrorInvalidResourceHandle;
  }
  delete s;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && !known(device().streams, s)) return cudaErrorInvalidResourceHandle;
  return cudaGetLastError();
}

cudaError_t cudaStreamQuery(cudaStream_t s) {
  if (s && !known(device().streams, s)) return cudaErrorInvalidResourceHandle;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned) {
  if ((s && !known(device().streams, s)) || !known(device().events, e)) {
    return cudaErrorInvalidResourceHandle;
  }
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  *e = new CUevent_st{flags, false, {}};
  std::lock_guard<std::mutex> lock(device().mu);
  device().events.insert(*e);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  {
    std::lock_guard<std::mutex> lock(device().mu);
    if (!device().events.erase(e)) return cudaErrorInvalidResourceHandle;
  }
  delete e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!known(device().events, e) || (s && !known(device().streams, s))) {
    return cudaErrorInvalidResourceHandle;
  }
  e->recorded = true;
  e->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t e) {
  return known(device().events, e) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) { return cudaEventQuery(e); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!known(device().events, a) || !known(device().events, b)) return cudaErrorInvalidResourceHandle;
  if ((a->flags | b->flags) & cudaEventDisableTiming) return cudaErrorInvalidResourceHandle;
  if (!a->recorded || !b->recorded) return cudaErrorInvalidResourceHandle;
  *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
  return cudaSuccess;
}

cudaError_t simt_func_set_attribute(const void* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || static_cast<size_t>(value) > kSharedOptin) {
    return fail(cudaErrorInvalidValue, Check::Launch,
                "[launch] cudaFuncSetAttribute(MaxDynamicSharedMemorySize, " +
                    std::to_string(value) + "): at most " + std::to_string(kSharedOptin) +
                    " bytes on an H100");
  }
  std::lock_guard<std::mutex> lock(device().mu);
  device().smem_attr[kernel] = static_cast<size_t>(value);
  return cudaSuccess;
}
