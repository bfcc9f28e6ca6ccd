// SIMT emulator: the tensor-core, ldmatrix and cp.async instructions behind simt/mma.cuh.
// Kernel-visible declarations; the work is done by the uninstrumented runtime
// (simt/emu/tensor.cpp, simt/emu/async.cpp), which checks every memory access it makes on
// behalf of a lane through lane_access() / the access hooks.
#pragma once

#include <cstdint>

#include "simt/emu/device.h"

namespace simt::emu {

// One lane's operands and result of mma.sync.m16n8k16 (registers as the PTX instruction has
// them: each uint32 packs two bf16, the lower half holding the lower column/row index).
struct MmaFrag {
  uint32_t a[4];
  uint32_t b[2];
  float c[4];
  float d[4];
};
// The Combine of mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (ctx unused).
SIMT_EMU_API void mma_m16n8k16_bf16_combine(void* const lanes[32], unsigned mask, const void* ctx);

// One lane's part of ldmatrix: the row address it supplies, the registers it receives.
struct LdmatrixFrag {
  const void* row;
  uint32_t r[4];
};
// What the instruction is (ctx of ldmatrix_combine); file/line name the call in reports.
struct LdmatrixOp {
  int num;     // 1, 2 or 4 matrices
  bool trans;  // .trans
  const char* file;
  int line;
};
SIMT_EMU_API void ldmatrix_combine(void* const lanes[32], unsigned mask, const void* ctx);

// cp.async of `bytes` (4, 8, 16) from global `src` to shared `dst`, of which `src_bytes` are read
// and the rest zero-filled; queued in the calling thread's current (uncommitted) group.
SIMT_EMU_API void cp_async(void* dst, const void* src, unsigned bytes, unsigned src_bytes,
                           const char* file, int line);
SIMT_EMU_API void cp_async_commit();
// Completes, in issue order, the copies of every committed group but the newest `pending`.
SIMT_EMU_API void cp_async_wait(unsigned pending);

}  // namespace simt::emu
