// The SIMT emulator's cuBLASLt model against a naive reference: every transpose combination,
// padded leading dimensions, strided batches, alpha/beta, each epilogue, bf16 and fp16 storage,
// and the checks a device would make (out of bounds, host pointers, alignment, invalid layouts).
// Compiled in EMU builds only (-DSBERT_CUDA=EMU defines SBERT_SIMT_EMU).
#include <catch2/catch.hpp>

#ifdef SBERT_SIMT_EMU
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "simt/emu/core.h"

namespace {

uint16_t to_bf16(float v) {  // round to nearest even (no NaN in these tests)
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float from_bf16(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

bool half(cudaDataType t) { return t == CUDA_R_16BF || t == CUDA_R_16F; }

// A device buffer of `count` elements of fp32, bf16 or fp16, filled from / read back as floats.
struct Buf {
  Buf(size_t count, cudaDataType t, bool zero = true) : n(count), type(t) {
    REQUIRE(cudaMalloc(&ptr, bytes()) == cudaSuccess);
    if (zero) upload(std::vector<float>(n, 0.0f));
  }
  ~Buf() { cudaFree(ptr); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  size_t bytes() const { return n * (half(type) ? 2 : 4); }
  void upload(const std::vector<float>& v) {
    REQUIRE(v.size() == n);
    if (half(type)) {
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i)
        h[i] = type == CUDA_R_16BF ? to_bf16(v[i]) : sbert::f32_to_f16(v[i]);
      REQUIRE(cudaMemcpy(ptr, h.data(), bytes(), cudaMemcpyHostToDevice) == cudaSuccess);
    } else {
      REQUIRE(cudaMemcpy(ptr, v.data(), bytes(), cudaMemcpyHostToDevice) == cudaSuccess);
    }
  }
  std::vector<float> download() const {
    std::vector<float> v(n);
    if (half(type)) {
      std::vector<uint16_t> h(n);
      REQUIRE(cudaMemcpy(h.data(), ptr, bytes(), cudaMemcpyDeviceToHost) == cudaSuccess);
      for (size_t i = 0; i < n; ++i)
        v[i] = type == CUDA_R_16BF ? from_bf16(h[i]) : sbert::f16_to_f32(h[i]);
    } else {
      REQUIRE(cudaMemcpy(v.data(), ptr, bytes(), cudaMemcpyDeviceToHost) == cudaSuccess);
    }
    return v;
  }
  void* ptr = nullptr;
  size_t n;
  cudaDataType type;
};

// Deterministic values that bf16 holds exactly (small multiples of 1/8).
std::vector<float> values(size_t n, int seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(static_cast<int>((i * 7 + static_cast<size_t>(seed) * 13) % 17) - 8) /
           8.0f;
  return v;
}

struct Mat {
  cudaDataType type = CUDA_R_32F;
  int64_t rows = 0, cols = 0, ld = 0;
  int batch = 1;
  int64_t stride = 0;
  size_t elements() const {
    return static_cast<size_t>(stride * (batch - 1) + ld * (cols - 1) + rows);
  }
};

struct Gemm {
  cublasOperation_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  Mat a, b, c;  // c describes both C and D
  float alpha = 1.0f, beta = 0.0f;
  const void* bias = nullptr;
  int64_t bias_stride = 0;
  void* aux = nullptr;
  int64_t aux_ld = 0, aux_stride = 0;
  uint32_t align = 256;  // the MIN_ALIGNMENT preferences
  int found = -1;        // the heuristic's answer
  cublasStatus_t heuristic = CUBLAS_STATUS_SUCCESS;
};

cublasLtMatrixLayout_t layout(const Mat& m) {
  cublasLtMatrixLayout_t l = nullptr;
  REQUIRE(cublasLtMatrixLayoutCreate(&l, m.type, static_cast<uint64_t>(m.rows),
                                     static_cast<uint64_t>(m.cols), m.ld) == CUBLAS_STATUS_SUCCESS);
  const int32_t count = m.batch;
  REQUIRE(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                           sizeof count) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                           &m.stride, sizeof m.stride) == CUBLAS_STATUS_SUCCESS);
  return l;
}

// Plans (descriptor, layouts, heuristic) and runs D = epi(alpha op(A) op(B) + beta C).
cublasStatus_t run(Gemm& g, const void* A, const void* B, const void* C, void* D) {
  cublasLtHandle_t h = nullptr;
  REQUIRE(cublasLtCreate(&h) == CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulDesc_t d = nullptr;
  REQUIRE(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS);
  auto set = [&](cublasLtMatmulDescAttributes_t attr, const auto& v) {
    REQUIRE(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof v) == CUBLAS_STATUS_SUCCESS);
  };
  set(CUBLASLT_MATMUL_DESC_TRANSA, g.ta);
  set(CUBLASLT_MATMUL_DESC_TRANSB, g.tb);
  set(CUBLASLT_MATMUL_DESC_EPILOGUE, g.epi);
  set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias);
  set(CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, g.bias_stride);
  set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, g.aux);
  set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, g.aux_ld);
  set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, g.aux_stride);
  cublasLtMatrixLayout_t la = layout(g.a), lb = layout(g.b), lc = layout(g.c);
  cublasLtMatmulPreference_t pref = nullptr;
  REQUIRE(cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS);
  for (auto attr :
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    REQUIRE(cublasLtMatmulPreferenceSetAttribute(pref, attr, &g.align, sizeof g.align) ==
            CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulHeuristicResult_t result{};
  g.found = 0;
  g.heuristic = cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lc, lc, pref, 1, &result, &g.found);
  cublasStatus_t s = g.heuristic;
  if (s == CUBLAS_STATUS_SUCCESS && g.found == 1)
    s = cublasLtMatmul(h, d, &g.alpha, A, la, B, lb, &g.beta, C, lc, D, lc, &result.algo, nullptr,
                       0, nullptr);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(d);
  cublasLtDestroy(h);
  return s;
}

double gelu(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
double dgelu(double x) {  // d/dx of gelu(), by central difference in the reference
  const double h = 1e-5;
  return (gelu(x + h) - gelu(x - h)) / (2 * h);
}

struct Host {  // host copies of the operands, as floats
  std::vector<float> a, b, c, bias, aux;
};

// op(A)(i, q) and op(B)(q, j) of batch bi.
float opa(const Gemm& g, const Host& h, int bi, int64_t i, int64_t q) {
  const int64_t base = bi * g.a.stride;
  return h.a[static_cast<size_t>(base + (g.ta == CUBLAS_OP_N ? i + q * g.a.ld : q + i * g.a.ld))];
}
float opb(const Gemm& g, const Host& h, int bi, int64_t q, int64_t j) {
  const int64_t base = bi * g.b.stride;
  return h.b[static_cast<size_t>(base + (g.tb == CUBLAS_OP_N ? q + j * g.b.ld : j + q * g.b.ld))];
}

// The expected D(i, j) of batch bi before storage rounding; `pre` receives the activation input.
double expect(const Gemm& g, const Host& h, int bi, int64_t i, int64_t j, double* pre = nullptr) {
  const int64_t k = g.ta == CUBLAS_OP_N ? g.a.cols : g.a.rows;
  double acc = 0;
  for (int64_t q = 0; q < k; ++q) acc += double{opa(g, h, bi, i, q)} * double{opb(g, h, bi, q, j)};
  double x = double{g.alpha} * double{static_cast<float>(acc)};
  if (g.beta != 0.0f)
    x += double{g.beta} * double{h.c[static_cast<size_t>(bi * g.c.stride + i + j * g.c.ld)]};
  const uint32_t e = g.epi;
  const bool bias_in = e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_RELU_BIAS ||
                       e == CUBLASLT_EPILOGUE_GELU_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  if (bias_in) x += double{h.bias[static_cast<size_t>(bi * g.bias_stride + i)]};
  if (pre) *pre = x;
  if (e == CUBLASLT_EPILOGUE_RELU || e == CUBLASLT_EPILOGUE_RELU_BIAS) x = std::max(x, 0.0);
  if (e == CUBLASLT_EPILOGUE_GELU || e == CUBLASLT_EPILOGUE_GELU_BIAS ||
      e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
    x = gelu(x);
  if (e == CUBLASLT_EPILOGUE_DGELU || e == CUBLASLT_EPILOGUE_DGELU_BGRAD)
    x *= dgelu(h.aux[static_cast<size_t>(bi * g.aux_stride + i + j * g.aux_ld)]);
  return x;
}

double stored(double x, cudaDataType t) {
  const auto f = static_cast<float>(x);
  if (t == CUDA_R_16F) return sbert::f16_to_f32(sbert::f32_to_f16(f));
  return t == CUDA_R_16BF ? from_bf16(to_bf16(f)) : f;
}

// Runs g on fresh device buffers filled with values() and checks D (and aux / bias outputs)
// against the reference. Elements outside the matrices (ld padding) must stay untouched.
void check_gemm(Gemm g) {
  const cudaDataType out_type = g.c.type;
  Buf A(g.a.elements(), g.a.type), B(g.b.elements(), g.b.type), C(g.c.elements(), out_type),
      D(g.c.elements(), out_type);
  Host h;
  h.a = values(A.n, 1);
  h.b = values(B.n, 2);
  h.c = values(C.n, 3);
  A.upload(h.a);
  B.upload(h.b);
  C.upload(h.c);
  const auto d_before = values(D.n, 4);
  D.upload(d_before);
  // bf16 operands: the reference sees what the device holds.
  h.a = A.download();
  h.b = B.download();
  h.c = C.download();

  const int64_t m = g.c.rows, n = g.c.cols;
  const bool bgrad_b = g.epi == CUBLASLT_EPILOGUE_BGRADB;
  const int64_t bias_len = bgrad_b ? n : m;
  const int64_t bias_stride = g.c.batch > 1 ? bias_len + 3 : 0;
  Buf bias(static_cast<size_t>(bias_stride * (g.c.batch - 1) + bias_len), out_type);
  h.bias = values(bias.n, 5);
  bias.upload(h.bias);
  h.bias = bias.download();
  const int64_t aux_ld = (m + 7) / 8 * 8 + 8;
  const int64_t aux_stride = aux_ld * n + 8;
  Buf aux(static_cast<size_t>(aux_stride * (g.c.batch - 1) + aux_ld * n), out_type);
  h.aux = values(aux.n, 6);
  aux.upload(h.aux);
  h.aux = aux.download();
  g.bias = bias.ptr;
  g.bias_stride = bias_stride;
  g.aux = aux.ptr;
  g.aux_ld = aux_ld;
  g.aux_stride = aux_stride;

  REQUIRE(run(g, A.ptr, B.ptr, C.ptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  CHECK(g.found == 1);
  const auto d = D.download();
  const auto aux_out = aux.download();
  const auto bias_out = bias.download();
  const double tol = half(out_type) ? 1e-2 : 1e-5;  // bf16 / fp16: one rounding step
  std::vector<bool> inside(D.n, false);
  for (int bi = 0; bi < g.c.batch; ++bi) {
    std::vector<double> grad(static_cast<size_t>(bias_len), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        const auto at = static_cast<size_t>(bi * g.c.stride + i + j * g.c.ld);
        inside[at] = true;
        double pre = 0;
        const double want = expect(g, h, bi, i, j, &pre);
        INFO("batch " << bi << " (" << i << ", " << j << ")");
        CHECK(d[at] == Approx(stored(want, out_type)).margin(tol));
        if (g.epi == CUBLASLT_EPILOGUE_GELU_AUX || g.epi == CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
          CHECK(aux_out[static_cast<size_t>(bi * aux_stride + i + j * aux_ld)] ==
                Approx(stored(pre, out_type)).margin(tol));
        if (g.epi == CUBLASLT_EPILOGUE_DGELU_BGRAD) grad[static_cast<size_t>(i)] += want;
      }
    }
    const int64_t k = g.ta == CUBLAS_OP_N ? g.a.cols : g.a.rows;
    if (g.epi == CUBLASLT_EPILOGUE_BGRADA)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t q = 0; q < k; ++q) grad[static_cast<size_t>(i)] += double{opa(g, h, bi, i, q)};
    if (bgrad_b)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < k; ++q) grad[static_cast<size_t>(j)] += double{opb(g, h, bi, q, j)};
    if (g.epi == CUBLASLT_EPILOGUE_DGELU_BGRAD || g.epi == CUBLASLT_EPILOGUE_BGRADA || bgrad_b)
      for (int64_t i = 0; i < bias_len; ++i)
        CHECK(bias_out[static_cast<size_t>(bi * bias_stride + i)] ==
              Approx(stored(grad[static_cast<size_t>(i)], out_type)).margin(tol * 10));
  }
  for (size_t i = 0; i < D.n; ++i)
    if (!inside[i]) CHECK(d[i] == d_before[i]);  // ld padding untouched
  CHECK(simt::emu::take_reports().empty());
}

// (m, n, k) with stored shapes for the transposes and leading dimensions padded by `pad`.
Gemm shape(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, int64_t pad,
           cudaDataType in = CUDA_R_32F, cudaDataType out = CUDA_R_32F) {
  Gemm g;
  g.ta = ta;
  g.tb = tb;
  const int64_t ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
  const int64_t br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
  g.a = {in, ar, ac, ar + pad};
  g.b = {in, br, bc, br + pad};
  g.c = {out, m, n, m + pad};
  return g;
}

}  // namespace

TEST_CASE("emu cuBLASLt: transposes, padded leading dimensions, alpha and beta", "[cuda][emu]") {
  for (auto ta : {CUBLAS_OP_N, CUBLAS_OP_T})
    for (auto tb : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (int64_t pad : {0, 3})
        for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, {1.5f, 0.5f}, {-0.25f, 1.0f}}) {
          INFO("ta " << ta << " tb " << tb << " pad " << pad << " alpha " << alpha << " beta "
                     << beta);
          Gemm g = shape(ta, tb, 5, 4, 7, pad);
          g.alpha = alpha;
          g.beta = beta;
          check_gemm(g);
        }
}

TEST_CASE("emu cuBLASLt: strided batches, including a broadcast operand", "[cuda][emu]") {
  for (auto ta : {CUBLAS_OP_N, CUBLAS_OP_T}) {
    Gemm g = shape(ta, CUBLAS_OP_T, 6, 3, 4, 2);
    g.a.batch = g.b.batch = g.c.batch = 3;
    g.a.stride = g.a.ld * g.a.cols + 5;
    g.b.stride = 0;  // one B for every batch
    g.c.stride = g.c.ld * g.c.cols + 1;
    g.beta = 0.5f;
    check_gemm(g);
  }
}

TEST_CASE("emu cuBLASLt: each epilogue", "[cuda][emu]") {
  for (auto epi :
       {CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_EPILOGUE_RELU, CUBLASLT_EPILOGUE_BIAS,
        CUBLASLT_EPILOGUE_RELU_BIAS, CUBLASLT_EPILOGUE_GELU, CUBLASLT_EPILOGUE_GELU_BIAS,
        CUBLASLT_EPILOGUE_GELU_AUX, CUBLASLT_EPILOGUE_GELU_AUX_BIAS, CUBLASLT_EPILOGUE_DGELU,
        CUBLASLT_EPILOGUE_DGELU_BGRAD, CUBLASLT_EPILOGUE_BGRADA, CUBLASLT_EPILOGUE_BGRADB})
    for (int batch : {1, 2}) {
      INFO("epilogue " << epi << " batch " << batch);
      Gemm g = shape(CUBLAS_OP_T, CUBLAS_OP_N, 9, 5, 6, 1);
      g.epi = epi;
      g.a.batch = g.b.batch = g.c.batch = batch;
      g.a.stride = g.a.ld * g.a.cols;
      g.b.stride = g.b.ld * g.b.cols;
      g.c.stride = g.c.ld * g.c.cols;
      g.alpha = 0.75f;
      check_gemm(g);
    }
}

TEST_CASE("emu cuBLASLt: GELU is cuBLASLt's tanh form, not erf", "[cuda][emu]") {
  // x = 1: tanh form 0.8411920, erf form 0.8413447.
  Buf A(1, CUDA_R_32F), B(1, CUDA_R_32F), D(1, CUDA_R_32F);
  A.upload({1.0f});
  B.upload({1.0f});
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, 0);
  g.epi = CUBLASLT_EPILOGUE_GELU;
  REQUIRE(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  CHECK(D.download()[0] == Approx(0.8411920).epsilon(1e-6));
}

TEST_CASE("emu cuBLASLt: bf16 inputs, bf16 or fp32 outputs", "[cuda][emu]") {
  for (auto out : {CUDA_R_16BF, CUDA_R_32F})
    for (auto ta : {CUBLAS_OP_N, CUBLAS_OP_T}) {
      Gemm g = shape(ta, CUBLAS_OP_N, 7, 5, 9, 2, CUDA_R_16BF, out);
      g.beta = 0.5f;
      g.epi = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
      check_gemm(g);
    }
  // fp32 inputs with a bf16 output: no such cuBLASLt kernel.
  Buf A(2, CUDA_R_32F), B(1, CUDA_R_32F);
  Buf A16(2, CUDA_R_16BF), D(2, CUDA_R_16BF);
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_32F, CUDA_R_16BF);
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  // bf16 storage rounds to nearest even.
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_16BF, CUDA_R_16BF);
  Buf B16(1, CUDA_R_16BF);
  B16.upload({1.0f});
  // A16 holds bf16(1) and bf16(1 + 2^-7) (exact); alpha 1 + 2^-8 makes the products ties.
  A16.upload({1.0f, 1.0f + 1.0f / 128});
  g.alpha = 1.0f + 1.0f / 256;
  REQUIRE(run(g, A16.ptr, B16.ptr, nullptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  const auto d = D.download();
  CHECK(d[0] == 1.0f);               // 1 + 2^-8: tie, rounds to even 1
  CHECK(d[1] == 1.0f + 2.0f / 128);  // 1 + 3 * 2^-8 + 2^-15: rounds up
}

TEST_CASE("emu cuBLASLt: fp16 inputs, fp16 or fp32 outputs", "[cuda][emu]") {
  for (auto out : {CUDA_R_16F, CUDA_R_32F})
    for (auto ta : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (auto tb : {CUBLAS_OP_N, CUBLAS_OP_T}) {
        Gemm g = shape(ta, tb, 7, 5, 9, 2, CUDA_R_16F, out);
        g.beta = 0.5f;
        g.epi = CUBLASLT_EPILOGUE_BIAS;
        check_gemm(g);
      }
  // Mixed operand types, and fp16 x fp16 -> bf16: no such cuBLASLt kernel.
  Buf A(2, CUDA_R_16F), B(1, CUDA_R_16F), Bb(1, CUDA_R_16BF), Db(2, CUDA_R_16BF);
  Buf D(2, CUDA_R_16F), D32(2, CUDA_R_32F);
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_16F, CUDA_R_16BF);
  CHECK(run(g, A.ptr, B.ptr, nullptr, Db.ptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_16F, CUDA_R_32F);
  g.b.type = CUDA_R_16BF;
  CHECK(run(g, A.ptr, Bb.ptr, nullptr, D32.ptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  // Subnormal operands multiply exactly: 2^-24 (fp16's smallest) x 2^10 and (1023 2^-24) x 2.
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_16F, CUDA_R_32F);
  A.upload({std::ldexp(1.0f, -24), 1023 * std::ldexp(1.0f, -24)});
  B.upload({1024.0f});
  REQUIRE(run(g, A.ptr, B.ptr, nullptr, D32.ptr) == CUBLAS_STATUS_SUCCESS);
  auto d = D32.download();
  CHECK(d[0] == std::ldexp(1.0f, -14));
  CHECK(d[1] == 1023 * std::ldexp(1.0f, -14));
  // An fp16 output rounds to nearest even and overflows to inf past 65504 (fp32 output: no).
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, 0, CUDA_R_16F, CUDA_R_16F);
  A.upload({1.0f + 1.0f / 1024, 65504.0f});
  B.upload({1.0f});
  g.alpha = 1.0f + 1.0f / 2048;  // (1 + 2^-10)(1 + 2^-11) = 1 + 3 2^-11 + 2^-21: rounds up
  REQUIRE(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  d = D.download();
  CHECK(d[0] == 1.0f + 2.0f / 1024);
  CHECK(std::isinf(d[1]));  // 65504 (1 + 2^-11) ~ 65536: past 65520
  g.c.type = CUDA_R_32F;
  REQUIRE(run(g, A.ptr, B.ptr, nullptr, D32.ptr) == CUBLAS_STATUS_SUCCESS);
  CHECK(D32.download()[1] == Approx(65504.0 * (1.0 + 1.0 / 2048)).epsilon(1e-7));
  CHECK(simt::emu::take_reports().empty());
}

TEST_CASE("emu cuBLASLt: beta 0 reads no C - C may be D", "[cuda][emu]") {
  Buf A(4 * 3, CUDA_R_32F), B(3 * 2, CUDA_R_32F);
  A.upload(values(A.n, 1));
  B.upload(values(B.n, 2));
  Buf C(4 * 2, CUDA_R_32F, /*zero=*/false);  // never written: initcheck would object to a read
  Buf D(4 * 2, CUDA_R_32F);
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 3, 0);
  REQUIRE(run(g, A.ptr, B.ptr, C.ptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  CHECK(simt::emu::take_reports().empty());
  const auto once = D.download();
  g.beta = 1.0f;  // in place: D += A B
  REQUIRE(run(g, A.ptr, B.ptr, D.ptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  const auto twice = D.download();
  for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == 2 * once[i]);
}

TEST_CASE("emu cuBLASLt: out-of-bounds and host pointers are reported", "[cuda][emu]") {
  simt::emu::take_reports();
  cudaGetLastError();
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, 0);
  Buf A(4 * 5 - 1, CUDA_R_32F), B(5 * 3, CUDA_R_32F), D(4 * 3, CUDA_R_32F);  // A one short
  A.upload(values(A.n, 1));
  B.upload(values(B.n, 2));
  const auto before = D.download();
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_EXECUTION_FAILED);
  auto reports = simt::emu::take_reports();
  REQUIRE(!reports.empty());
  CHECK(reports[0].check == simt::emu::Check::Memcheck);
  CHECK(reports[0].message.find("cublasLtMatmul: matrix A") != std::string::npos);
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);
  CHECK(D.download() == before);  // nothing written

  std::vector<float> host_b(5 * 3, 1.0f);
  Buf A_ok(4 * 5, CUDA_R_32F);
  A_ok.upload(values(A_ok.n, 1));
  g.align = 4;  // a host vector need not be 256-byte aligned
  CHECK(run(g, A_ok.ptr, host_b.data(), nullptr, D.ptr) == CUBLAS_STATUS_EXECUTION_FAILED);
  reports = simt::emu::take_reports();
  REQUIRE(!reports.empty());
  CHECK(reports[0].message.find("cublasLtMatmul: matrix B") != std::string::npos);
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);

  // A bias one element short.
  Buf bias(3, CUDA_R_32F);
  g.epi = CUBLASLT_EPILOGUE_BIAS;
  g.bias = bias.ptr;
  CHECK(run(g, A_ok.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_EXECUTION_FAILED);
  reports = simt::emu::take_reports();
  REQUIRE(!reports.empty());
  CHECK(reports[0].message.find("cublasLtMatmul: bias") != std::string::npos);
  cudaGetLastError();
}

TEST_CASE("emu cuBLASLt: a pointer less aligned than the plan assumed is refused", "[cuda][emu]") {
  simt::emu::take_reports();
  Buf A(64, CUDA_R_32F), B(64, CUDA_R_32F), D(64, CUDA_R_32F);
  A.upload(values(A.n, 1));
  B.upload(values(B.n, 2));
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, 0);
  g.align = 16;
  const float* a4 = static_cast<const float*>(A.ptr) + 1;  // 4-byte aligned
  CHECK(run(g, a4, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_INVALID_VALUE);
  auto reports = simt::emu::take_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].check == simt::emu::Check::Memcheck);
  CHECK(reports[0].message.find("misaligned") != std::string::npos);
  CHECK(reports[0].message.find("MIN_ALIGNMENT_A") != std::string::npos);
  g.align = 4;  // planned for it: fine
  CHECK(run(g, a4, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_SUCCESS);
  g.align = 2;  // no fp32 algorithm works with 2-byte alignment
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  CHECK(g.found == 0);
  CHECK(simt::emu::take_reports().empty());
}

TEST_CASE("emu cuBLASLt: descriptor checks", "[cuda][emu]") {
  Buf A(64, CUDA_R_32F), B(64, CUDA_R_32F), D(64, CUDA_R_32F);
  Gemm g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, 0);
  g.a.ld = 3;  // ld < rows
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_INVALID_VALUE);
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, 0);
  g.b.rows = 5;  // k mismatch
  g.b.ld = 5;
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_INVALID_VALUE);
  g = shape(CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, 0);
  g.epi = CUBLASLT_EPILOGUE_RELU_AUX;  // bit-mask epilogues are not modelled
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  g.epi = CUBLASLT_EPILOGUE_GELU_AUX;  // aux ld must be a multiple of 8 covering D's rows
  g.aux = D.ptr;
  g.aux_ld = 4;
  CHECK(run(g, A.ptr, B.ptr, nullptr, D.ptr) == CUBLAS_STATUS_INVALID_VALUE);

  cublasLtMatmulDesc_t d = nullptr;
  REQUIRE(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS);
  const int64_t wrong_size = CUBLAS_OP_T;
  CHECK(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &wrong_size,
                                       sizeof wrong_size) == CUBLAS_STATUS_INVALID_VALUE);
  const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_GELU_BIAS;
  REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) ==
          CUBLAS_STATUS_SUCCESS);
  uint32_t back = 0;
  size_t written = 0;
  REQUIRE(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, nullptr, 0, &written) ==
          CUBLAS_STATUS_SUCCESS);
  CHECK(written == sizeof(uint32_t));
  REQUIRE(cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &back, sizeof back,
                                         &written) == CUBLAS_STATUS_SUCCESS);
  CHECK(back == CUBLASLT_EPILOGUE_GELU_BIAS);
  cublasLtMatmulDescDestroy(d);
}

#endif  // SBERT_SIMT_EMU
