// Tensor-core and async-copy instructions for kernels that compile both under nvcc and under the
// SIMT emulator (docs/emulator.md). Under nvcc each wrapper is the PTX instruction (inline asm,
// sm_80+); under the emulator it is a software warp collective with the exact fragment layouts
// of the PTX ISA (simt/emu/tensor.cpp, simt/emu/async.cpp), so bf16 tensor-core kernels run and
// are checked (memcheck, initcheck, racecheck) on the CPU.
//
//   mma_m16n8k16_bf16(d, a, b, c)  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D = A B + C
//       per lane (g = lane / 4, t = lane % 4; each uint32 packs two bf16, lower half = lower index):
//         a[0] = A(g, 2t..2t+1)   a[1] = A(g+8, 2t..2t+1)   a[2] = A(g, 2t+8..)   a[3] = A(g+8, 2t+8..)
//         b[0] = B(2t..2t+1, g)   b[1] = B(2t+8..2t+9, g)
//         c[0..1] = C(g, 2t..2t+1)   c[2..3] = C(g+8, 2t..2t+1)        (d likewise)
//       The emulator accumulates in fp32 in k order; a tensor core's order and internal
//       precision differ slightly, so compare results with a tolerance, not bitwise.
//   ldmatrix_x{1,2,4}[_trans](r, row)   ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16:
//       lanes 8i..8i+7 pass the (16-byte aligned, shared) addresses of rows 0..7 of matrix i;
//       r[i] of lane l = row l/4, elements 2(l%4), 2(l%4)+1 of matrix i (.trans: of its transpose).
//   cp_async_{4,8,16}(dst, src), cp_async_16_zfill(dst, src, src_bytes)
//       cp.async.{ca,cg}.shared.global; cp_async_commit() = cp.async.commit_group;
//       cp_async_wait<N>() = cp.async.wait_group N; cp_async_wait_all() = cp.async.wait_all.
//       The destination must not be read before the wait that covers it (the emulator only
//       copies at the wait, so such a read sees the old contents).
//
// All mma / ldmatrix wrappers are .sync.aligned: every lane of the warp must execute the same call.
#pragma once

#include <cstdint>

#include "simt/bf16.cuh"
#include "simt/portable.cuh"

#ifdef SBERT_SIMT_EMU
#include "simt/emu/tensor.h"
#endif

namespace simt {

// Two bf16 in one 32-bit fragment register: `lo` in bits 0..15 (the lower row/column index).
__device__ __forceinline__ uint32_t pack_bf16x2(__nv_bfloat16 lo, __nv_bfloat16 hi) {
  return uint32_t{__bfloat16_as_ushort(lo)} | (uint32_t{__bfloat16_as_ushort(hi)} << 16);
}

#ifdef SBERT_SIMT_EMU

// The emulated forms take the caller's location (default arguments) so reports name the call.
inline void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                              const float c[4], const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  emu::MmaFrag f;
  for (int i = 0; i < 4; ++i) f.a[i] = a[i], f.c[i] = c[i];
  f.b[0] = b[0], f.b[1] = b[1];
  emu::warp_combine(0xffffffffu, &f, &emu::mma_m16n8k16_bf16_combine, nullptr,
                    "mma.sync.m16n8k16", file, line);
  for (int i = 0; i < 4; ++i) d[i] = f.d[i];
}

namespace detail {
template <int Num, bool Trans>
inline void ldmatrix(uint32_t* r, const void* row, const char* file, int line) {
  emu::LdmatrixFrag f{row, {}};
  // On this lane's stack: the lane that completes the collective runs the combine with its own
  // op, which is alive until then.
  const emu::LdmatrixOp op{Num, Trans, file, line};
  emu::warp_combine(0xffffffffu, &f, &emu::ldmatrix_combine, &op, "ldmatrix", file, line);
  for (int i = 0; i < Num; ++i) r[i] = f.r[i];
}
}  // namespace detail

#define SIMT_LDMATRIX_EMU(name, num, trans)                                                 \
  inline void name(uint32_t r[num], const void* row, const char* file = __builtin_FILE(), \
                   int line = __builtin_LINE()) {                                         \
    detail::ldmatrix<num, trans>(r, row, file, line);                                     \
  }
SIMT_LDMATRIX_EMU(ldmatrix_x1, 1, false)
SIMT_LDMATRIX_EMU(ldmatrix_x2, 2, false)
SIMT_LDMATRIX_EMU(ldmatrix_x4, 4, false)
SIMT_LDMATRIX_EMU(ldmatrix_x1_trans, 1, true)
SIMT_LDMATRIX_EMU(ldmatrix_x2_trans, 2, true)
SIMT_LDMATRIX_EMU(ldmatrix_x4_trans, 4, true)
#undef SIMT_LDMATRIX_EMU

inline void cp_async_4(void* dst, const void* src, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  emu::cp_async(dst, src, 4, 4, file, line);
}
inline void cp_async_8(void* dst, const void* src, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  emu::cp_async(dst, src, 8, 8, file, line);
}
inline void cp_async_16(void* dst, const void* src, const char* file = __builtin_FILE(),
                        int line = __builtin_LINE()) {
  emu::cp_async(dst, src, 16, 16, file, line);
}
// Reads src_bytes (0..16) of src and zero-fills the rest of the 16 bytes (a tile's edge).
inline void cp_async_16_zfill(void* dst, const void* src, unsigned src_bytes,
                              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  emu::cp_async(dst, src, 16, src_bytes, file, line);
}
inline void cp_async_commit() { emu::cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
  static_assert(N >= 0, "cp.async.wait_group N: the number of newest groups left pending");
  emu::cp_async_wait(static_cast<unsigned>(N));
}
inline void cp_async_wait_all() {
  emu::cp_async_commit();
  emu::cp_async_wait(0);
}

#else  // nvcc: the PTX instructions (sm_80 and later)

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4],
                                                  const uint32_t b[2], const float c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
}

// "memory": the compiler must not move this thread's shared-memory stores past the load.
__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0]) : "r"(shared_address(row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0]) : "r"(shared_address(row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(row)) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)) : "memory");
}

// .ca for 4 and 8 bytes (.cg takes 16 only); .cg (L2 only) for 16: tiles are streamed once.
__device__ __forceinline__ void cp_async_4(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(shared_address(dst)), "l"(src)
               : "memory");
}
__device__ __forceinline__ void cp_async_8(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(shared_address(dst)), "l"(src)
               : "memory");
}
__device__ __forceinline__ void cp_async_16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(dst)),
               "l"(src)
               : "memory");
}
__device__ __forceinline__ void cp_async_16_zfill(void* dst, const void* src, unsigned src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)),
               "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// "memory": loads of the destination must not be hoisted above the wait.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(N >= 0, "cp.async.wait_group N: the number of newest groups left pending");
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}

#endif

}  // namespace simt
