// SIMT emulator: the device-side builtins a kernel source uses, for the host compiler.
//
// threadIdx / blockIdx / blockDim / gridDim read the emulated thread that is running (each
// thread of a block is a fiber, simt/emu/scheduler.cpp). Barriers and warp collectives switch
// fibers; atomics and the collectives are served by the (uninstrumented) runtime, so the race
// detector sees atomics as atomics. Every other load and store of a kernel is seen through the
// compiler's access hooks (simt/emu/hooks.cpp): that is what makes memcheck, initcheck and
// racecheck possible without changing the kernel source.
//
// `__shared__` is deliberately not defined: kernels declare shared memory with SIMT_SHARED and
// SIMT_DYNAMIC_SHARED (simt/portable.cuh), which are __shared__ under nvcc.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __constant__
#define __align__(n) alignas(n)
#define __restrict__ __restrict

// Exported from libsbert even under -fvisibility=hidden: kernels compiled into other binaries
// (the emulator's own tests) call into the runtime.
#define SIMT_EMU_API __attribute__((visibility("default")))

namespace simt::emu {

// By value: the emulator's own state is not kernel memory (the access hooks would see a read
// of host memory).
SIMT_EMU_API uint3 thread_idx();
SIMT_EMU_API uint3 block_idx();
SIMT_EMU_API dim3 block_dim();
SIMT_EMU_API dim3 grid_dim();

SIMT_EMU_API void syncthreads(const char* file, int line);

enum class Coll : int { Sync, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, MatchAny, Combine };
// One warp collective of the calling lane: waits for every lane of `mask`, then returns this
// lane's result (a shuffled value's bits, a ballot, ...). `arg`: source lane, delta or xor mask.
SIMT_EMU_API uint64_t warp_collective(Coll kind, unsigned mask, uint64_t value, int arg,
                                      int width, const char* file, int line);
SIMT_EMU_API unsigned active_mask();

// A warp collective whose result is computed from every lane's data at once (the software
// tensor-core and ldmatrix instructions of simt/mma.cuh): each lane of `mask` passes a pointer
// to its own buffer (on its stack; alive while it waits); when the last lane arrives, `combine`
// runs once with the 32 buffers (null for lanes outside the mask) and may read and write all of
// them. Memory the instruction touches is checked with lane_access().
using Combine = void (*)(void* const lanes[32], unsigned mask, const void* ctx);
SIMT_EMU_API void warp_combine(unsigned mask, void* mine, Combine combine, const void* ctx,
                               const char* op, const char* file, int line);
// Inside a Combine: an access made by lane `lane` of the warp (memcheck, initcheck, races).
SIMT_EMU_API void lane_access(int lane, const void* p, size_t bytes, bool write);

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles move values of at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

// Atomics on device or shared memory (checked like any access, but never a race).
SIMT_EMU_API float atomic_add(float* p, float v);
SIMT_EMU_API double atomic_add(double* p, double v);
SIMT_EMU_API int atomic_add(int* p, int v);
SIMT_EMU_API unsigned atomic_add(unsigned* p, unsigned v);
SIMT_EMU_API unsigned long long atomic_add(unsigned long long* p, unsigned long long v);
SIMT_EMU_API int atomic_max(int* p, int v);
SIMT_EMU_API unsigned atomic_max(unsigned* p, unsigned v);
SIMT_EMU_API int atomic_min(int* p, int v);
SIMT_EMU_API unsigned atomic_min(unsigned* p, unsigned v);
SIMT_EMU_API int atomic_exch(int* p, int v);
SIMT_EMU_API unsigned atomic_exch(unsigned* p, unsigned v);
SIMT_EMU_API float atomic_exch(float* p, float v);
SIMT_EMU_API int atomic_cas(int* p, int compare, int v);
SIMT_EMU_API unsigned atomic_cas(unsigned* p, unsigned compare, unsigned v);
SIMT_EMU_API unsigned long long atomic_cas(unsigned long long* p, unsigned long long compare,
                                           unsigned long long v);

}  // namespace simt::emu

#define threadIdx (::simt::emu::thread_idx())
#define blockIdx (::simt::emu::block_idx())
#define blockDim (::simt::emu::block_dim())
#define gridDim (::simt::emu::grid_dim())
constexpr int warpSize = 32;

#define __syncthreads() ::simt::emu::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) ::simt::emu::syncwarp_at(__FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__)

namespace simt::emu {
inline void syncwarp_at(const char* file, int line, unsigned mask = 0xffffffffu) {
  warp_collective(Coll::Sync, mask, 0, 0, 32, file, line);
}
}  // namespace simt::emu

// ---- warp shuffles and votes ------------------------------------------------------------------
// Macros so that a report names the line of the call in the kernel.
#define __shfl_sync(mask, v, src, ...) \
  ::simt::emu::shfl(::simt::emu::Coll::ShflIdx, mask, v, src, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_up_sync(mask, v, d, ...) \
  ::simt::emu::shfl(::simt::emu::Coll::ShflUp, mask, v, d, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_down_sync(mask, v, d, ...) \
  ::simt::emu::shfl(::simt::emu::Coll::ShflDown, mask, v, d, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_xor_sync(mask, v, m, ...) \
  ::simt::emu::shfl(::simt::emu::Coll::ShflXor, mask, v, m, __FILE__, __LINE__, ##__VA_ARGS__)
#define __ballot_sync(mask, p) \
  static_cast<unsigned>(       \
      ::simt::emu::warp_collective(::simt::emu::Coll::Ballot, mask, (p) != 0, 0, 32, __FILE__, __LINE__))
#define __any_sync(mask, p) \
  static_cast<int>(         \
      ::simt::emu::warp_collective(::simt::emu::Coll::Any, mask, (p) != 0, 0, 32, __FILE__, __LINE__))
#define __all_sync(mask, p) \
  static_cast<int>(         \
      ::simt::emu::warp_collective(::simt::emu::Coll::All, mask, (p) != 0, 0, 32, __FILE__, __LINE__))
#define __match_any_sync(mask, v)                                                                 \
  static_cast<unsigned>(::simt::emu::warp_collective(::simt::emu::Coll::MatchAny, mask,           \
                                                     ::simt::emu::to_bits(v), 0, 32, __FILE__, \
                                                     __LINE__))
#define __activemask() ::simt::emu::active_mask()

namespace simt::emu {
template <class T>
inline T shfl(Coll kind, unsigned mask, T v, int arg, const char* file, int line, int width = 32) {
  return from_bits<T>(warp_collective(kind, mask, to_bits(v), arg, width, file, line));
}
}  // namespace simt::emu

// ---- atomics ---------------------------------------------------------------------------------
template <class T, class V>
inline T atomicAdd(T* p, V v) {
  return ::simt::emu::atomic_add(p, static_cast<T>(v));
}
template <class T, class V>
inline T atomicMax(T* p, V v) {
  return ::simt::emu::atomic_max(p, static_cast<T>(v));
}
template <class T, class V>
inline T atomicMin(T* p, V v) {
  return ::simt::emu::atomic_min(p, static_cast<T>(v));
}
template <class T, class V>
inline T atomicExch(T* p, V v) {
  return ::simt::emu::atomic_exch(p, static_cast<T>(v));
}
template <class T, class C, class V>
inline T atomicCAS(T* p, C compare, V v) {
  return ::simt::emu::atomic_cas(p, static_cast<T>(compare), static_cast<T>(v));
}
inline void __threadfence() {}
inline void __threadfence_block() {}

// ---- math and bit intrinsics: the round-to-nearest forms are the IEEE operations ----------
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fdividef(float a, float b) { return a / b; }
// The fast-math intrinsics are approximations on a GPU; here they are the accurate functions.
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float __sinf(float a) { return std::sin(a); }
inline float __cosf(float a) { return std::cos(a); }
inline float __tanhf(float a) { return std::tanh(a); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline double rsqrt(double a) { return 1.0 / std::sqrt(a); }
inline float __saturatef(float a) { return a < 0.0f ? 0.0f : (a > 1.0f ? 1.0f : a); }
inline float __int2float_rn(int a) { return static_cast<float>(a); }
inline int __float2int_rn(float a) { return static_cast<int>(std::nearbyint(a)); }
inline int __float2int_rz(float a) { return static_cast<int>(a); }

inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  __extension__ using u128 = unsigned __int128;
  return static_cast<unsigned long long>((static_cast<u128>(a) * b) >> 64);
}
inline int __popc(unsigned a) { return std::popcount(a); }
inline int __popcll(unsigned long long a) { return std::popcount(a); }
inline int __clz(unsigned a) { return std::countl_zero(a); }
inline int __clzll(unsigned long long a) { return std::countl_zero(a); }
inline int __ffs(unsigned a) { return a ? std::countr_zero(a) + 1 : 0; }
inline int __ffsll(unsigned long long a) { return a ? std::countr_zero(a) + 1 : 0; }
inline unsigned __brev(unsigned a) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((a >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __float_as_uint(float a) { return std::bit_cast<unsigned>(a); }
inline float __uint_as_float(unsigned a) { return std::bit_cast<float>(a); }
inline int __float_as_int(float a) { return std::bit_cast<int>(a); }
inline float __int_as_float(int a) { return std::bit_cast<float>(a); }
inline long long __double_as_longlong(double a) { return std::bit_cast<long long>(a); }
inline double __longlong_as_double(long long a) { return std::bit_cast<double>(a); }
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
