// The SIMT emulator's cuBLASLt model: cublasLtMatmul computed on the host, with the argument
// checks cuBLASLt makes and the memory checks compute-sanitizer would make on a device.
//
// Numerics (documented so tests and parity checks know what to expect):
//   * each dot product of op(A) row i and op(B) column j is accumulated in double (every fp32,
//     bf16 or fp16 product is exact in double) and rounded once to float, standing in for the
//     device's fp32 accumulator; the order of a tensor-core reduction is not modelled, so a
//     device result differs from this one in the last bits, never more than fp32 accumulation
//     error;
//   * the epilogue then runs in double on that float: x = alpha dot + beta C + bias, then the
//     activation, rounded to float and then to D's type (bf16: round to nearest even on the upper
//     16 bits; fp16: IEEE binary16 round to nearest even with subnormals, >= 65520 -> inf);
//   * beta == 0 reads no C (cuBLAS's rule: C may then be uninitialised, NaN does not propagate);
//   * CUBLAS_COMPUTE_32F_FAST_16BF / _FAST_TF32 / _FAST_16F are accepted and computed as 32F
//     (the device may round inputs first; tests of those modes need a tolerance anyway).
//
// GELU: cuBLASLt's GELU epilogues are the tanh approximation
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// and DGELU is its exact derivative. libsbert's CPU GELU is the erf form, so the CUDA path must
// not fuse GELU into a cuBLASLt epilogue where parity with the CPU engine is wanted.
//
// Memory: every column the matmul reads (A, B, C, bias, aux) or writes (D, aux, bias gradient)
// goes through simt::emu::check_device_range before anything is computed: a too-small or freed
// allocation or a host pointer is reported as compute-sanitizer would, and the call returns
// CUBLAS_STATUS_EXECUTION_FAILED with the stream's error set to cudaErrorIllegalAddress (on a
// device the kernel faults; the failure surfaces at the next synchronisation). Nothing is written
// then.
//
// Alignment: cublasLtMatmulAlgoGetHeuristic picks an algorithm for the MIN_ALIGNMENT_*
// preferences (default 256 bytes); on a device, handing that algorithm a less aligned pointer
// makes its kernel fault with "misaligned address". The emulator records the preferences in the
// algorithm and refuses such a pointer at once (a Memcheck report and
// CUBLAS_STATUS_INVALID_VALUE, nothing computed) so the plan/pointer mismatch is named. The
// bias and aux pointers have no preference: the heuristic derives their alignment from the
// descriptor's pointer when set, and a device kernel may assume 16 bytes when it is not; the
// emulator requires the same.
#include <cublasLt.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "simt/emu/core.h"

namespace {

using simt::emu::Access;
using simt::emu::Check;

// ---- the emulator's contents of the semi-opaque structs ------------------------------------
constexpr uint32_t kLayoutMagic = 0x4c59'4f55;  // "LYOU"
constexpr uint32_t kDescMagic = 0x4445'5343;    // "DESC"
constexpr uint32_t kPrefMagic = 0x5052'4546;    // "PREF"
constexpr uint32_t kAlgoMagic = 0x414c'474f;    // "ALGO"
constexpr uint32_t kHandleMagic = 0x4c54'4844;  // "LTHD"
constexpr uint32_t kUnsetAlign = 0;

struct Layout {
  uint32_t magic;
  uint32_t type;  // cudaDataType
  int32_t order;
  int32_t batch_count;
  uint64_t rows, cols;
  int64_t ld;
  int64_t stride;  // elements between batch instances
  int64_t plane_offset;
  uint32_t batch_mode;
};

struct Desc {
  uint32_t magic;
  int32_t compute_type, scale_type, pointer_mode;
  int32_t transa, transb, transc, fill_mode;
  uint32_t epilogue;
  int32_t aux_type, bias_type;  // -1: D's type
  int32_t sm_count;
  const void* bias;
  void* aux;
  int64_t bias_stride, aux_ld, aux_stride;
  int8_t fast_accum;
};

struct Pref {
  uint32_t magic;
  uint32_t search_mode, reduction_mask;
  uint32_t align[4];  // A, B, C, D
  float max_waves;
  uint64_t max_workspace, impl_mask;
};

// What the heuristic promised the algorithm may assume about the pointers.
struct Algo {
  uint32_t magic;
  uint32_t align[4];  // A, B, C, D
  uint32_t align_bias, align_aux;
};

template <class S, class O>
S load(const O* o) {
  static_assert(sizeof(S) <= sizeof(o->data));
  S s;
  std::memcpy(&s, o->data, sizeof s);
  return s;
}
template <class S, class O>
void store(O* o, const S& s) {
  static_assert(sizeof(S) <= sizeof(o->data));
  std::memset(o->data, 0, sizeof o->data);
  std::memcpy(o->data, &s, sizeof s);
}

// Where an attribute lives inside the loaded struct: cuBLASLt insists that sizeInBytes matches
// the attribute's storage exactly, so the size is part of the answer. {nullptr, 0}: unknown.
struct Field {
  void* p = nullptr;
  size_t size = 0;
};
template <class T>
Field f(T& v) {
  return {&v, sizeof v};
}

Field field(Layout& l, cublasLtMatrixLayoutAttribute_t a) {
  switch (a) {
    case CUBLASLT_MATRIX_LAYOUT_TYPE:
      return f(l.type);
    case CUBLASLT_MATRIX_LAYOUT_ORDER:
      return f(l.order);
    case CUBLASLT_MATRIX_LAYOUT_ROWS:
      return f(l.rows);
    case CUBLASLT_MATRIX_LAYOUT_COLS:
      return f(l.cols);
    case CUBLASLT_MATRIX_LAYOUT_LD:
      return f(l.ld);
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT:
      return f(l.batch_count);
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET:
      return f(l.stride);
    case CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET:
      return f(l.plane_offset);
    case CUBLASLT_MATRIX_LAYOUT_BATCH_MODE:
      return f(l.batch_mode);
  }
  return {};
}

// Attributes whose effect is not modelled (fp8 scaling, amax, device-vector alpha) are unknown
// here, so setting them fails with NOT_SUPPORTED instead of being silently ignored.
Field field(Desc& d, cublasLtMatmulDescAttributes_t a) {
  switch (a) {
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE:
      return f(d.compute_type);
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE:
      return f(d.scale_type);
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
      return f(d.pointer_mode);
    case CUBLASLT_MATMUL_DESC_TRANSA:
      return f(d.transa);
    case CUBLASLT_MATMUL_DESC_TRANSB:
      return f(d.transb);
    case CUBLASLT_MATMUL_DESC_TRANSC:
      return f(d.transc);
    case CUBLASLT_MATMUL_DESC_FILL_MODE:
      return f(d.fill_mode);
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      return f(d.epilogue);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      return f(d.bias);
    case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE:
      return f(d.bias_stride);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER:
      return f(d.aux);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD:
      return f(d.aux_ld);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE:
      return f(d.aux_stride);
    case CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET:  // a scheduling hint: no effect on results
      return f(d.sm_count);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE:
      return f(d.aux_type);
    case CUBLASLT_MATMUL_DESC_FAST_ACCUM:  // fp8 only: no effect on fp32 / bf16
      return f(d.fast_accum);
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE:
      return f(d.bias_type);
    default:
      return {};
  }
}

Field field(Pref& p, cublasLtMatmulPreferenceAttributes_t a) {
  switch (a) {
    case CUBLASLT_MATMUL_PREF_SEARCH_MODE:
      return f(p.search_mode);
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
      return f(p.max_workspace);
    case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK:
      return f(p.reduction_mask);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
      return f(p.align[0]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
      return f(p.align[1]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
      return f(p.align[2]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
      return f(p.align[3]);
    case CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT:
      return f(p.max_waves);
    case CUBLASLT_MATMUL_PREF_IMPL_MASK:
      return f(p.impl_mask);
  }
  return {};
}

template <class S, class O, class A>
cublasStatus_t set_attr(O* o, uint32_t magic, A attr, const void* buf, size_t size) {
  if (!o || !buf) return CUBLAS_STATUS_INVALID_VALUE;
  S s = load<S>(o);
  if (s.magic != magic) return CUBLAS_STATUS_INVALID_VALUE;
  const Field fl = field(s, attr);
  if (!fl.p) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (size != fl.size) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(fl.p, buf, size);
  store(o, s);
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLASLt's rule: sizeInBytes 0 asks for the size (through sizeWritten); otherwise it must
// match the storage.
template <class S, class O, class A>
cublasStatus_t get_attr(O* o, uint32_t magic, A attr, void* buf, size_t size, size_t* written) {
  if (!o) return CUBLAS_STATUS_INVALID_VALUE;
  S s = load<S>(o);
  if (s.magic != magic) return CUBLAS_STATUS_INVALID_VALUE;
  const Field fl = field(s, attr);
  if (!fl.p) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (size == 0) {
    if (!written) return CUBLAS_STATUS_INVALID_VALUE;
    *written = fl.size;
    return CUBLAS_STATUS_SUCCESS;
  }
  if (!buf || size != fl.size) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(buf, fl.p, size);
  if (written) *written = size;
  return CUBLAS_STATUS_SUCCESS;
}

Layout default_layout(cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld) {
  Layout l{};
  l.magic = kLayoutMagic;
  l.type = static_cast<uint32_t>(type);
  l.order = CUBLASLT_ORDER_COL;
  l.batch_count = 1;
  l.rows = rows;
  l.cols = cols;
  l.ld = ld;
  return l;
}

Desc default_desc(cublasComputeType_t compute, cudaDataType_t scale) {
  Desc d{};
  d.magic = kDescMagic;
  d.compute_type = compute;
  d.scale_type = scale;
  d.pointer_mode = CUBLASLT_POINTER_MODE_HOST;
  d.transa = d.transb = d.transc = CUBLAS_OP_N;
  d.fill_mode = 2;  // CUBLAS_FILL_MODE_FULL
  d.epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  d.aux_type = d.bias_type = -1;
  return d;
}

Pref default_pref() {
  Pref p{};
  p.magic = kPrefMagic;
  p.reduction_mask = 0x7;  // CUBLASLT_REDUCTION_SCHEME_MASK: all schemes
  for (auto& a : p.align) a = 256;
  p.impl_mask = ~uint64_t{0};
  return p;
}

// ---- element access --------------------------------------------------------------------------
size_t elem_size(uint32_t type) { return type == CUDA_R_16BF || type == CUDA_R_16F ? 2 : 4; }
bool storage_ok(uint32_t type) {
  return type == CUDA_R_32F || type == CUDA_R_16BF || type == CUDA_R_16F;
}

float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Round to nearest even on the upper 16 bits; NaN stays a (quiet) NaN.
uint16_t float_to_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE binary16 (exact in double).
double fp16_to_double(uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int exp = (h >> 10) & 0x1f;
  const int man = h & 0x3ff;
  if (exp == 31) return man ? std::numeric_limits<double>::quiet_NaN() : sign * HUGE_VAL;
  if (exp == 0) return sign * std::ldexp(man, -24);
  return sign * std::ldexp(1024 + man, exp - 25);
}

// Round to nearest even, subnormals kept, |v| >= 65520 -> inf, NaN -> a quiet NaN.
uint16_t float_to_fp16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (a < 0x38800000u) {  // subnormal in half: round |v| 2^24 to an integer, ties to even
    const double q = std::fabs(static_cast<double>(v)) * 16777216.0;
    double r = std::floor(q);
    const double frac = q - r;
    if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
  }
  uint32_t w = a - 0x38000000u;
  w += 0xfffu + ((w >> 13) & 1u);
  return static_cast<uint16_t>(sign | (w >> 13));
}

double get(const void* base, uint32_t type, int64_t idx) {
  if (type == CUDA_R_16BF) return bf16_to_float(static_cast<const uint16_t*>(base)[idx]);
  if (type == CUDA_R_16F) return fp16_to_double(static_cast<const uint16_t*>(base)[idx]);
  return static_cast<const float*>(base)[idx];
}

void put(void* base, uint32_t type, int64_t idx, double v) {
  const float f32 = static_cast<float>(v);
  if (type == CUDA_R_16BF)
    static_cast<uint16_t*>(base)[idx] = float_to_bf16(f32);
  else if (type == CUDA_R_16F)
    static_cast<uint16_t*>(base)[idx] = float_to_fp16(f32);
  else
    static_cast<float*>(base)[idx] = f32;
}

const void* at(const void* base, uint32_t type, int64_t elements) {
  return static_cast<const unsigned char*>(base) + elements * static_cast<int64_t>(elem_size(type));
}
void* at(void* base, uint32_t type, int64_t elements) {
  return static_cast<unsigned char*>(base) + elements * static_cast<int64_t>(elem_size(type));
}

// ---- GELU (tanh form, as cuBLASLt) -----------------------------------------------------------
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluC = 0.044715;

double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluC * x * x * x)));
}

double dgelu_tanh(double x) {
  const double t = std::tanh(kSqrt2OverPi * (x + kGeluC * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * x * x);
}

// ---- the problem ------------------------------------------------------------------------------
struct Epilogue {
  bool bias_in = false;  // + bias (m) before the activation
  bool relu = false;
  bool gelu = false;
  bool aux_out = false;  // GELU input stored to aux
  bool dgelu = false;    // times gelu'(aux)
  bool bgrad_d = false;  // bias gradient: row sums of D
  bool bgrad_a = false;  // bias gradient: row sums of op(A)
  bool bgrad_b = false;  // bias gradient: column sums of op(B)
  bool uses_bias() const { return bias_in || bgrad_d || bgrad_a || bgrad_b; }
  bool uses_aux() const { return aux_out || dgelu; }
};

bool decode_epilogue(uint32_t e, Epilogue* out) {
  Epilogue p;
  switch (e) {
    case CUBLASLT_EPILOGUE_DEFAULT:
      break;
    case CUBLASLT_EPILOGUE_RELU:
      p.relu = true;
      break;
    case CUBLASLT_EPILOGUE_BIAS:
      p.bias_in = true;
      break;
    case CUBLASLT_EPILOGUE_RELU_BIAS:
      p.relu = p.bias_in = true;
      break;
    case CUBLASLT_EPILOGUE_GELU:
      p.gelu = true;
      break;
    case CUBLASLT_EPILOGUE_GELU_AUX:
      p.gelu = p.aux_out = true;
      break;
    case CUBLASLT_EPILOGUE_GELU_BIAS:
      p.gelu = p.bias_in = true;
      break;
    case CUBLASLT_EPILOGUE_GELU_AUX_BIAS:
      p.gelu = p.aux_out = p.bias_in = true;
      break;
    case CUBLASLT_EPILOGUE_DGELU:
      p.dgelu = true;
      break;
    case CUBLASLT_EPILOGUE_DGELU_BGRAD:
      p.dgelu = p.bgrad_d = true;
      break;
    case CUBLASLT_EPILOGUE_BGRADA:
      p.bgrad_a = true;
      break;
    case CUBLASLT_EPILOGUE_BGRADB:
      p.bgrad_b = true;
      break;
    default:  // the ReLU bit-mask epilogues are not modelled
      return false;
  }
  *out = p;
  return true;
}

struct Problem {
  Desc desc;
  Layout a, b, c, d;
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  int batch = 1;
  Epilogue epi;
  uint32_t bias_type = CUDA_R_32F, aux_type = CUDA_R_32F;
  int64_t bias_len = 0;
};

bool layout_ok(const Layout& l) {
  return l.ld >= 0 && static_cast<uint64_t>(l.ld) >= l.rows && l.batch_count >= 1 &&
         l.rows <= INT32_MAX && l.cols <= INT32_MAX;
}

// The checks cuBLASLt makes of the descriptors alone (shared by the heuristic and the matmul).
cublasStatus_t describe(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t A,
                        cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C,
                        cublasLtMatrixLayout_t D, Problem* out) {
  if (!desc || !A || !B || !C || !D) return CUBLAS_STATUS_INVALID_VALUE;
  Problem p;
  p.desc = load<Desc>(desc);
  p.a = load<Layout>(A);
  p.b = load<Layout>(B);
  p.c = load<Layout>(C);
  p.d = load<Layout>(D);
  if (p.desc.magic != kDescMagic) return CUBLAS_STATUS_INVALID_VALUE;
  for (const Layout* l : {&p.a, &p.b, &p.c, &p.d})
    if (l->magic != kLayoutMagic) return CUBLAS_STATUS_INVALID_VALUE;

  switch (p.desc.compute_type) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      break;
    default:
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (p.desc.scale_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (p.desc.pointer_mode != CUBLASLT_POINTER_MODE_HOST) return CUBLAS_STATUS_NOT_SUPPORTED;
  // For real types cuBLAS treats CUBLAS_OP_C as CUBLAS_OP_T.
  auto op = [](int32_t t, bool* trans) {
    if (t != CUBLAS_OP_N && t != CUBLAS_OP_T && t != CUBLAS_OP_C) return false;
    *trans = t != CUBLAS_OP_N;
    return true;
  };
  if (!op(p.desc.transa, &p.ta) || !op(p.desc.transb, &p.tb)) return CUBLAS_STATUS_INVALID_VALUE;
  if (p.desc.transc != CUBLAS_OP_N) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (!decode_epilogue(p.desc.epilogue, &p.epi)) return CUBLAS_STATUS_NOT_SUPPORTED;

  // Types: A and B alike, C and D alike; fp32 inputs give fp32 outputs, bf16 (fp16) inputs
  // fp32 or their own type (cuBLASLt's CUBLAS_COMPUTE_32F table has no bf16 x bf16 -> fp16).
  for (const Layout* l : {&p.a, &p.b, &p.c, &p.d}) {
    if (!storage_ok(l->type) || l->order != CUBLASLT_ORDER_COL || l->plane_offset != 0 ||
        l->batch_mode != CUBLASLT_BATCH_MODE_STRIDED)
      return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!layout_ok(*l)) return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (p.a.type != p.b.type || p.c.type != p.d.type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (p.a.type == CUDA_R_32F && p.d.type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (p.d.type != CUDA_R_32F && p.d.type != p.a.type) return CUBLAS_STATUS_NOT_SUPPORTED;

  // Shapes: op(A) m x k, op(B) k x n, C and D m x n.
  p.m = static_cast<int64_t>(p.d.rows);
  p.n = static_cast<int64_t>(p.d.cols);
  p.k = static_cast<int64_t>(p.ta ? p.a.rows : p.a.cols);
  const auto a_rows = static_cast<int64_t>(p.ta ? p.a.cols : p.a.rows);
  const auto b_rows = static_cast<int64_t>(p.tb ? p.b.cols : p.b.rows);
  const auto b_cols = static_cast<int64_t>(p.tb ? p.b.rows : p.b.cols);
  if (a_rows != p.m || b_rows != p.k || b_cols != p.n || p.c.rows != p.d.rows ||
      p.c.cols != p.d.cols)
    return CUBLAS_STATUS_INVALID_VALUE;
  p.batch = p.d.batch_count;
  for (const Layout* l : {&p.a, &p.b, &p.c})
    if (l->batch_count != p.batch) return CUBLAS_STATUS_INVALID_VALUE;

  // Epilogue operands. Their types default to D's; fp32, bf16 or fp16.
  p.bias_type = p.desc.bias_type < 0 ? p.d.type : static_cast<uint32_t>(p.desc.bias_type);
  p.aux_type = p.desc.aux_type < 0 ? p.d.type : static_cast<uint32_t>(p.desc.aux_type);
  if (p.epi.uses_bias() && !storage_ok(p.bias_type)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (p.epi.uses_aux()) {
    if (!storage_ok(p.aux_type)) return CUBLAS_STATUS_NOT_SUPPORTED;
    // Documented: the GELU aux leading dimension and batch stride are multiples of 8, and the
    // leading dimension covers D's rows.
    if (p.desc.aux_ld < p.m || p.desc.aux_ld % 8 != 0 || p.desc.aux_stride % 8 != 0 ||
        p.desc.aux_stride < 0)
      return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (p.desc.bias_stride < 0) return CUBLAS_STATUS_INVALID_VALUE;
  p.bias_len = p.epi.bgrad_b ? p.n : p.m;
  *out = p;
  return CUBLAS_STATUS_SUCCESS;
}

unsigned alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  unsigned align = 256;
  while (align > 1 && (a % align) != 0) align /= 2;
  return align;
}

// The base pointer at least `need` bytes aligned, else a Memcheck report. Only the base: the
// heuristic sees the layouts, so the alignment that leading dimensions and batch strides imply
// is its own business, as on a device.
bool aligned(const void* p, unsigned need, const char* who, const char* pref) {
  if (reinterpret_cast<uintptr_t>(p) % need == 0) return true;
  simt::emu::report(Check::Memcheck,
                    std::string("cublasLtMatmul: ") + who + " at " + simt::emu::hex(reinterpret_cast<uintptr_t>(p)) + " is " +
                        std::to_string(alignment_of(p)) +
                        "-byte aligned but the algorithm assumes " + std::to_string(need) + " (" +
                        pref +
                        "): misaligned address on a device; plan with the pointer's alignment");
  return false;
}

// Every column of a (rows, cols, ld) matrix in each batch instance goes through the emulator's
// memory check, so a short allocation or a host pointer is caught where a device would fault.
bool columns_ok(const void* base, uint32_t type, int64_t rows, int64_t cols, int64_t ld,
                int64_t stride, int batch, Access access, const char* who) {
  if (rows == 0 || cols == 0) return true;
  const size_t bytes = static_cast<size_t>(rows) * elem_size(type);
  for (int i = 0; i < batch; ++i)
    for (int64_t j = 0; j < cols; ++j)
      if (!simt::emu::check_device_range(at(base, type, i * stride + j * ld), bytes, access, who))
        return false;
  return true;
}

}  // namespace

struct cublasLtContext {
  uint32_t magic = kHandleMagic;
};

extern "C" {

// ---- handle ------------------------------------------------------------------------------------
cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  if (!handle || handle->magic != kHandleMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->magic = 0;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasLtGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasLtGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported";
    default:
      return cublasLtGetStatusName(s);
  }
}

// The cuBLAS release whose interface this models.
size_t cublasLtGetVersion(void) { return 130100; }

// ---- matrix layout
// -------------------------------------------------------------------------------
cublasStatus_t cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t l, size_t size,
                                                 cudaDataType type, uint64_t rows, uint64_t cols,
                                                 int64_t ld) {
  if (!l) return CUBLAS_STATUS_INVALID_VALUE;
  if (size < sizeof(*l)) return CUBLAS_STATUS_ALLOC_FAILED;
  store(l, default_layout(type, rows, cols, ld));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  if (!l) return CUBLAS_STATUS_INVALID_VALUE;
  *l = new cublasLtMatrixLayoutOpaque_t;
  store(*l, default_layout(type, rows, cols, ld));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t l,
                                                cublasLtMatrixLayoutAttribute_t attr,
                                                const void* buf, size_t size) {
  return set_attr<Layout>(l, kLayoutMagic, attr, buf, size);
}

cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t l,
                                                cublasLtMatrixLayoutAttribute_t attr, void* buf,
                                                size_t size, size_t* written) {
  return get_attr<Layout>(l, kLayoutMagic, attr, buf, size, written);
}

// ---- matmul descriptor
// ---------------------------------------------------------------------------
cublasStatus_t cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t d, size_t size,
                                               cublasComputeType_t compute, cudaDataType_t scale) {
  if (!d) return CUBLAS_STATUS_INVALID_VALUE;
  if (size < sizeof(*d)) return CUBLAS_STATUS_ALLOC_FAILED;
  store(d, default_desc(compute, scale));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  if (!d) return CUBLAS_STATUS_INVALID_VALUE;
  *d = new cublasLtMatmulDescOpaque_t;
  store(*d, default_desc(compute, scale));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t attr, const void* buf,
                                              size_t size) {
  return set_attr<Desc>(d, kDescMagic, attr, buf, size);
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t attr, void* buf,
                                              size_t size, size_t* written) {
  return get_attr<Desc>(d, kDescMagic, attr, buf, size, written);
}

// ---- preference ------------------------------------------------------------------------------
cublasStatus_t cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t p, size_t size) {
  if (!p) return CUBLAS_STATUS_INVALID_VALUE;
  if (size < sizeof(*p)) return CUBLAS_STATUS_ALLOC_FAILED;
  store(p, default_pref());
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  if (!p) return CUBLAS_STATUS_INVALID_VALUE;
  *p = new cublasLtMatmulPreferenceOpaque_t;
  store(*p, default_pref());
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void* buf, size_t size) {
  return set_attr<Pref>(p, kPrefMagic, attr, buf, size);
}

cublasStatus_t cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    void* buf, size_t size, size_t* written) {
  return get_attr<Pref>(p, kPrefMagic, attr, buf, size, written);
}

// ---- heuristic
// ----------------------------------------------------------------------------------- One algorithm
// when the problem is supported and every alignment preference admits at least element alignment (a
// 2-byte preference cannot be met by an fp32 kernel: no algorithm, as cuBLASLt answers). The
// algorithm remembers the alignments it may assume.
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[],
                                              int* found) {
  if (!handle || handle->magic != kHandleMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (requested <= 0 || !results || !found) return CUBLAS_STATUS_INVALID_VALUE;
  *found = 0;
  Problem p;
  if (const cublasStatus_t s = describe(desc, A, B, C, D, &p); s != CUBLAS_STATUS_SUCCESS) return s;
  const Pref pr = pref ? load<Pref>(pref) : default_pref();
  if (pr.magic != kPrefMagic) return CUBLAS_STATUS_INVALID_VALUE;

  Algo algo{};
  algo.magic = kAlgoMagic;
  const uint32_t types[4] = {p.a.type, p.b.type, p.c.type, p.d.type};
  for (int i = 0; i < 4; ++i) {
    const uint32_t need = pr.align[i];
    if (need < elem_size(types[i]) || need % elem_size(types[i]) != 0)
      return CUBLAS_STATUS_NOT_SUPPORTED;
    algo.align[i] = need;
  }
  algo.align_bias = p.desc.bias ? alignment_of(p.desc.bias) : 16;
  algo.align_aux = p.desc.aux ? alignment_of(p.desc.aux) : 16;

  results[0] = cublasLtMatmulHeuristicResult_t{};
  store(&results[0].algo, algo);
  results[0].workspaceSize = 0;  // the model needs none
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

// ---- matmul
// --------------------------------------------------------------------------------------
cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                              const void* alpha_p, const void* A, cublasLtMatrixLayout_t Adesc,
                              const void* B, cublasLtMatrixLayout_t Bdesc, const void* beta_p,
                              const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo_p,
                              void* /*workspace: the model needs none*/, size_t /*workspace bytes*/,
                              cudaStream_t /*stream: the emulator's streams are synchronous*/) {
  if (!handle || handle->magic != kHandleMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
  Problem p;
  if (const cublasStatus_t s = describe(desc, Adesc, Bdesc, Cdesc, Ddesc, &p);
      s != CUBLAS_STATUS_SUCCESS)
    return s;
  if (!alpha_p || !beta_p) return CUBLAS_STATUS_INVALID_VALUE;
  const float alpha = *static_cast<const float*>(alpha_p);
  const float beta = *static_cast<const float*>(beta_p);
  const bool read_c = beta != 0.0f;
  const Epilogue& e = p.epi;
  const Desc& ds = p.desc;
  const int64_t m = p.m, n = p.n, k = p.k;
  const int batch = p.batch;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  if (!A || !B || !D || (read_c && !C)) return CUBLAS_STATUS_INVALID_VALUE;
  if (e.uses_bias() && !ds.bias) return CUBLAS_STATUS_INVALID_VALUE;
  if (e.uses_aux() && !ds.aux) return CUBLAS_STATUS_INVALID_VALUE;
  // In place (C == D) needs identical layouts, as in cuBLASLt.
  if (C == D && (p.c.ld != p.d.ld || p.c.stride != p.d.stride || p.c.type != p.d.type))
    return CUBLAS_STATUS_INVALID_VALUE;

  // Alignment: what the algorithm was chosen for, or (no algorithm: cuBLASLt then picks one
  // for the pointers at hand) the element size.
  Algo algo{};
  if (algo_p) {
    algo = load<Algo>(algo_p);
    if (algo.magic != kAlgoMagic) return CUBLAS_STATUS_INVALID_VALUE;
  } else {
    algo.align[0] = static_cast<uint32_t>(elem_size(p.a.type));
    algo.align[1] = static_cast<uint32_t>(elem_size(p.b.type));
    algo.align[2] = static_cast<uint32_t>(elem_size(p.c.type));
    algo.align[3] = static_cast<uint32_t>(elem_size(p.d.type));
    algo.align_bias = static_cast<uint32_t>(elem_size(p.bias_type));
    algo.align_aux = static_cast<uint32_t>(elem_size(p.aux_type));
  }
  if (!aligned(A, algo.align[0], "matrix A", "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES") ||
      !aligned(B, algo.align[1], "matrix B", "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES") ||
      (read_c &&
       !aligned(C, algo.align[2], "matrix C", "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES")) ||
      !aligned(D, algo.align[3], "matrix D", "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES") ||
      (e.uses_bias() && !aligned(ds.bias, algo.align_bias, "bias",
                                 "the bias pointer seen by the heuristic, else 16")) ||
      (e.uses_aux() && !aligned(ds.aux, algo.align_aux, "epilogue aux",
                                "the aux pointer seen by the heuristic, else 16")))
    return CUBLAS_STATUS_INVALID_VALUE;

  // Memory: all reads, then all writes, before anything is computed.
  const int64_t a_rows = static_cast<int64_t>(p.a.rows), a_cols = static_cast<int64_t>(p.a.cols);
  const int64_t b_rows = static_cast<int64_t>(p.b.rows), b_cols = static_cast<int64_t>(p.b.cols);
  const bool mem_ok =
      columns_ok(A, p.a.type, a_rows, a_cols, p.a.ld, p.a.stride, batch, Access::Read,
                 "cublasLtMatmul: matrix A") &&
      columns_ok(B, p.b.type, b_rows, b_cols, p.b.ld, p.b.stride, batch, Access::Read,
                 "cublasLtMatmul: matrix B") &&
      (!read_c || columns_ok(C, p.c.type, m, n, p.c.ld, p.c.stride, batch, Access::Read,
                             "cublasLtMatmul: matrix C")) &&
      (!e.bias_in || columns_ok(ds.bias, p.bias_type, p.bias_len, 1, p.bias_len, ds.bias_stride,
                                batch, Access::Read, "cublasLtMatmul: bias")) &&
      (!e.dgelu || columns_ok(ds.aux, p.aux_type, m, n, ds.aux_ld, ds.aux_stride, batch,
                              Access::Read, "cublasLtMatmul: epilogue aux (GELU input)")) &&
      columns_ok(D, p.d.type, m, n, p.d.ld, p.d.stride, batch, Access::Write,
                 "cublasLtMatmul: matrix D") &&
      (!e.aux_out || columns_ok(ds.aux, p.aux_type, m, n, ds.aux_ld, ds.aux_stride, batch,
                                Access::Write, "cublasLtMatmul: epilogue aux (GELU input)")) &&
      (e.bias_in || !e.uses_bias() ||
       columns_ok(ds.bias, p.bias_type, p.bias_len, 1, p.bias_len, ds.bias_stride, batch,
                  Access::Write, "cublasLtMatmul: bias gradient"));
  if (!mem_ok) {
    simt::emu::set_error(cudaErrorIllegalAddress);
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }

  std::vector<double> opa(static_cast<size_t>(m * k));  // op(A), row i contiguous over k
  std::vector<double> opb(static_cast<size_t>(n * k));  // op(B), column j contiguous over k
  std::vector<double> bgrad;
  for (int bi = 0; bi < batch; ++bi) {
    const void* a = at(A, p.a.type, bi * p.a.stride);
    const void* b = at(B, p.b.type, bi * p.b.stride);
    const void* c = read_c ? at(C, p.c.type, bi * p.c.stride) : nullptr;
    void* d = at(D, p.d.type, bi * p.d.stride);
    // The bias pointer is const in the descriptor but written by the gradient epilogues.
    void* bias =
        e.uses_bias() ? at(const_cast<void*>(ds.bias), p.bias_type, bi * ds.bias_stride) : nullptr;
    void* aux = e.uses_aux() ? at(ds.aux, p.aux_type, bi * ds.aux_stride) : nullptr;

    for (int64_t i = 0; i < m; ++i)
      for (int64_t q = 0; q < k; ++q)
        opa[static_cast<size_t>(i * k + q)] =
            get(a, p.a.type, p.ta ? q + i * p.a.ld : i + q * p.a.ld);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t q = 0; q < k; ++q)
        opb[static_cast<size_t>(j * k + q)] =
            get(b, p.b.type, p.tb ? j + q * p.b.ld : q + j * p.b.ld);

    bgrad.assign(static_cast<size_t>(p.bias_len), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double acc = 0.0;
        const double* ra = &opa[static_cast<size_t>(i * k)];
        const double* cb = &opb[static_cast<size_t>(j * k)];
        for (int64_t q = 0; q < k; ++q) acc += ra[q] * cb[q];
        double x = static_cast<double>(alpha) * static_cast<double>(static_cast<float>(acc));
        if (read_c) x += static_cast<double>(beta) * get(c, p.c.type, i + j * p.c.ld);
        if (e.bias_in) x += get(bias, p.bias_type, i);
        if (e.aux_out) put(aux, p.aux_type, i + j * ds.aux_ld, x);
        if (e.relu) x = x > 0.0 ? x : 0.0;
        if (e.gelu) x = gelu_tanh(x);
        if (e.dgelu) x *= dgelu_tanh(get(aux, p.aux_type, i + j * ds.aux_ld));
        if (e.bgrad_d) bgrad[static_cast<size_t>(i)] += x;
        put(d, p.d.type, i + j * p.d.ld, x);
      }
    }
    // The bias gradients of BGRADA / BGRADB: sums of op(A)'s rows / op(B)'s columns over k,
    // unscaled by alpha (the emulator's reading of cuBLASLt's documentation).
    if (e.bgrad_a)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t q = 0; q < k; ++q)
          bgrad[static_cast<size_t>(i)] += opa[static_cast<size_t>(i * k + q)];
    if (e.bgrad_b)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < k; ++q)
          bgrad[static_cast<size_t>(j)] += opb[static_cast<size_t>(j * k + q)];
    if (e.bgrad_d || e.bgrad_a || e.bgrad_b)
      for (int64_t i = 0; i < p.bias_len; ++i)
        put(bias, p.bias_type, i, bgrad[static_cast<size_t>(i)]);
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
