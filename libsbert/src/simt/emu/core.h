// The SIMT emulator's internal interface, shared by its runtime pieces (device memory and its
// shadow, the block scheduler, the cuBLASLt and NCCL models). Not seen by kernel sources.
//
// One emulated device per process. Its state (the memory arena, the reports, the per-kernel
// attributes) is process-wide by nature, as a real device is: it lives in one object reached
// through device_state(), guarded by its mutex. Kernels execute one launch at a time
// process-wide (the execution lock), so host threads acting as NCCL ranks can share it.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace simt::emu {

// What the emulator reports, named after the compute-sanitizer tool that reports it on a GPU.
enum class Check {
  Memcheck,   // out of bounds, freed, host pointer, misaligned
  Initcheck,  // read of device memory never written
  Racecheck,  // shared-memory hazard between two threads with no barrier in between
  Synccheck,  // divergent barrier, bad warp-collective mask, deadlock
  Launch,     // a configuration a real device would refuse
};
const char* check_name(Check c);

struct Report {
  Check check;
  std::string message;  // one line: kernel, block, thread, address / offset, what
};

// Records a report: it becomes the detail of the error the current launch or call returns
// (cudaGetErrorString shows it) and is kept for simt::emu::reports().
void report(Check check, std::string message);

// The reports recorded since the last take_reports() (at most kMaxReports kept; the count of
// all is returned through `total`).
constexpr size_t kMaxReports = 64;
std::vector<Report> take_reports(size_t* total = nullptr);

// ---- device memory ------------------------------------------------------------------------
enum class Access { Read, Write };

// True when [p, p + bytes) lies inside one live device allocation. With Read, each byte must
// also have been written (initcheck). With Write, the bytes become initialised. Otherwise a
// report naming `who` (e.g. "cublasLtMatmul: matrix B") is recorded and false returned.
bool check_device_range(const void* p, size_t bytes, Access access, const char* who);

// True when p points into the device arena (live or not).
bool is_device_address(const void* p);

// The stream's error state: an error recorded by a kernel or a library model while working on
// `stream` surfaces at the next call, as asynchronous errors do on a device.
void set_error(cudaError_t e);

// The pieces of a report: "0x7f..." for an address or mask, "file.cu:123" for a call site.
std::string hex(uint64_t v);
std::string loc(const char* file, int line);

}  // namespace simt::emu
