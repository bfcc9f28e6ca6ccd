// SIMT emulator: software tensor-core and ldmatrix instructions (simt/mma.cuh). Each runs as a
// warp_combine: when the last lane of the warp arrives, the combine below sees every lane's
// fragment buffer, rebuilds the matrices with the fragment layouts of the PTX ISA, and hands
// each lane its part of the result. Uninstrumented (a runtime source): the buffers live on the
// other lanes' stacks, which the access hooks would reject; memory the instruction itself reads
// is checked with lane_access(), attributed to the lane that supplied the address.
#include <cstring>
#include <string>

#include "simt/emu/state.h"
#include "simt/emu/tensor.h"

namespace simt::emu {

namespace {

float bf16_lo(uint32_t v) { return from_bits<float>(uint64_t{(v & 0xffffu) << 16}); }
float bf16_hi(uint32_t v) { return from_bits<float>(uint64_t{v & 0xffff0000u}); }

// A fatal report in the name of lane `lane` of the running warp.
[[noreturn]] void fault_as(int lane, Check check, const std::string& what) {
  Lane* self = tl_current.lane;
  tl_current.lane = &tl_current.exec->block.lanes[static_cast<size_t>(self->warp * kWarp + lane)];
  try {
    kernel_report(check, what, true);
  } catch (...) {
    tl_current.lane = self;
    throw;
  }
  throw KernelFault{};  // not reached: kernel_report with fatal throws
}

}  // namespace

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" (.bf16), with
// groupID = lane >> 2 and tig (threadID_in_group) = lane % 4:
//   A (16x16, row): a[0] = (g, 2t..2t+1), a[1] = (g+8, 2t..), a[2] = (g, 2t+8..), a[3] = (g+8, 2t+8..)
//   B (16x8, col):  b[0] = (rows 2t..2t+1, col g), b[1] = (rows 2t+8..2t+9, col g)
//   C, D (16x8):    c[0], c[1] = (g, 2t), (g, 2t+1); c[2], c[3] = (g+8, 2t), (g+8, 2t+1)
// (the same as CUTLASS's SM80_16x8x16_F32BF16BF16F32_TN traits).
void mma_m16n8k16_bf16_combine(void* const lanes[32], unsigned, const void*) {
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < kWarp; ++lane) {
    const auto& f = *static_cast<const MmaFrag*>(lanes[lane]);
    const int g = lane >> 2, t = lane & 3, k = 2 * t;
    for (int h = 0; h < 2; ++h) {  // h: the +8 half of the columns of A, rows of B
      const uint32_t top = f.a[2 * h], bottom = f.a[2 * h + 1];
      A[g][k + 8 * h] = bf16_lo(top);
      A[g][k + 8 * h + 1] = bf16_hi(top);
      A[g + 8][k + 8 * h] = bf16_lo(bottom);
      A[g + 8][k + 8 * h + 1] = bf16_hi(bottom);
      B[k + 8 * h][g] = bf16_lo(f.b[h]);
      B[k + 8 * h + 1][g] = bf16_hi(f.b[h]);
    }
    C[g][k] = f.c[0];
    C[g][k + 1] = f.c[1];
    C[g + 8][k] = f.c[2];
    C[g + 8][k + 1] = f.c[3];
  }
  // fp32 accumulation in k order, starting from C. The products of two bf16 are exact in fp32,
  // so only the order and precision of the additions can differ from a tensor core (whose
  // internal accumulation order and rounding are not specified): results agree to a few ulps
  // of the sum of |products|, not bitwise, and tests compare with a tolerance.
  float D[16][8];
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 8; ++n) {
      float acc = C[m][n];
      for (int k = 0; k < 16; ++k) acc += A[m][k] * B[k][n];
      D[m][n] = acc;
    }
  }
  for (int lane = 0; lane < kWarp; ++lane) {
    auto& f = *static_cast<MmaFrag*>(lanes[lane]);
    const int g = lane >> 2, k = 2 * (lane & 3);
    f.d[0] = D[g][k];
    f.d[1] = D[g][k + 1];
    f.d[2] = D[g + 8][k];
    f.d[3] = D[g + 8][k + 1];
  }
}

// PTX ISA, "Warp-level matrix load instruction: ldmatrix" (.m8n8, .b16): lanes 8i..8i+7 supply
// the addresses of rows 0..7 of matrix i (16 bytes each, 16-byte aligned, in shared memory);
// register i of lane l receives row l / 4, elements 2 (l % 4) and 2 (l % 4) + 1 of matrix i
// (lower element in the lower half), or with .trans the same of the transposed matrix, i.e.
// column l / 4, rows 2 (l % 4) and 2 (l % 4) + 1. With .x1 / .x2 the addresses of lanes 8..31 /
// 16..31 are not used.
void ldmatrix_combine(void* const lanes[32], unsigned, const void* ctx) {
  const auto& op = *static_cast<const LdmatrixOp*>(ctx);
  const Exec& e = *tl_current.exec;
  const auto shared_lo = reinterpret_cast<uintptr_t>(e.shared);
  uint16_t m[4][8][8];
  for (int i = 0; i < op.num; ++i) {
    for (int r = 0; r < 8; ++r) {
      const int lane = 8 * i + r;
      const void* row = static_cast<const LdmatrixFrag*>(lanes[lane])->row;
      const auto a = reinterpret_cast<uintptr_t>(row);
      if (a < shared_lo || a + 16 > shared_lo + kSharedOptin) {
        fault_as(lane, Check::Memcheck,
                 "ldmatrix at " + loc(op.file, op.line) + ": the row address of lane " +
                     std::to_string(lane) + " is not in shared memory");
      }
      lane_access(lane, row, 16, false);  // bounds, alignment, races
      std::memcpy(m[i][r], row, 16);
    }
  }
  for (int lane = 0; lane < kWarp; ++lane) {
    auto& f = *static_cast<LdmatrixFrag*>(lanes[lane]);
    const int row = lane / 4, col = 2 * (lane % 4);
    for (int i = 0; i < op.num; ++i) {
      const uint16_t lo = op.trans ? m[i][col][row] : m[i][row][col];
      const uint16_t hi = op.trans ? m[i][col + 1][row] : m[i][row][col + 1];
      f.r[i] = uint32_t{lo} | uint32_t{hi} << 16;
    }
  }
}

}  // namespace simt::emu
