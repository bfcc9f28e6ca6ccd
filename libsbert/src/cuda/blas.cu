#include "cuda/blas.cuh"

#include "cuda/check.cuh"

namespace sbert::cuda {

namespace {

struct DescDeleter {
  void operator()(cublasLtMatmulDescOpaque_t* d) const { cublasLtMatmulDescDestroy(d); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayoutOpaque_t* l) const { cublasLtMatrixLayoutDestroy(l); }
};
struct PrefDeleter {
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using DescPtr = std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter>;
using LayoutPtr = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LayoutDeleter>;
using PrefPtr = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, PrefDeleter>;

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume of it.
unsigned alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  unsigned align = 256;
  while (align > 1 && (a % align) != 0) align /= 2;
  return align;
}

// A column-major (rows, cols) matrix of type t (fp32, bf16 or fp16) with leading dimension ld.
LayoutPtr make_layout(int64_t rows, int64_t cols, int64_t ld, cudaDataType_t t = CUDA_R_32F) {
  cublasLtMatrixLayout_t l = nullptr;
  SBERT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, t,
                                                static_cast<uint64_t>(rows),
                                                static_cast<uint64_t>(cols), ld));
  return LayoutPtr(l);
}

template <class V>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const V& value) {
  SBERT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof(value)));
}

template <class V>
void set_pref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr,
              const V& value) {
  SBERT_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(p, attr, &value, sizeof(value)));
}

}  // namespace

struct Blas::Plan {
  DescPtr desc;
  LayoutPtr a, b, c;
  cublasLtMatmulAlgo_t algo{};
};

Blas::Blas(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  SBERT_CUBLAS_CHECK(cublasLtCreate(&handle_));
  if (workspace_bytes_ > 0) {
    const cudaError_t e = cudaMalloc(&workspace_, workspace_bytes_);
    if (e != cudaSuccess) {
      cublasLtDestroy(handle_);
      fail("[cublasLt] workspace of ", workspace_bytes_, " bytes: ", cudaGetErrorString(e));
    }
  }
}

Blas::~Blas() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

Blas::Plan& Blas::plan(const GemmShape& s, unsigned align_a, unsigned align_b, unsigned align_c,
                       unsigned align_bias) {
  const Key key{s.trans_a, s.trans_b, s.m,      s.n,     s.k,     s.lda,   s.ldb,     s.ldc,
                s.accumulate, s.bias, s.bf16, s.fp16, align_a, align_b, align_c, align_bias};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto p = std::make_unique<Plan>();
  cublasLtMatmulDesc_t d = nullptr;
  SBERT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  p->desc.reset(d);
  const cublasOperation_t ta = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_desc(d, CUBLASLT_MATMUL_DESC_TRANSA, ta);
  set_desc(d, CUBLASLT_MATMUL_DESC_TRANSB, tb);
  const cublasLtEpilogue_t epi = s.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  set_desc(d, CUBLASLT_MATMUL_DESC_EPILOGUE, epi);
  // Stored (not transposed) shapes of A and B.
  SBERT_CHECK(!(s.bf16 && s.fp16), "[matmul] a GEMM's operands are bf16 or fp16, not both");
  const cudaDataType_t ab = s.bf16 ? CUDA_R_16BF : s.fp16 ? CUDA_R_16F : CUDA_R_32F;
  p->a = s.trans_a ? make_layout(s.k, s.m, s.lda, ab) : make_layout(s.m, s.k, s.lda, ab);
  p->b = s.trans_b ? make_layout(s.n, s.k, s.ldb, ab) : make_layout(s.k, s.n, s.ldb, ab);
  p->c = make_layout(s.m, s.n, s.ldc);

  cublasLtMatmulPreference_t pr = nullptr;
  SBERT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pr));
  PrefPtr pref(pr);
  const uint64_t ws = workspace_bytes_;
  set_pref(pr, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws);
  set_pref(pr, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(align_a));
  set_pref(pr, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(align_b));
  set_pref(pr, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(align_c));
  set_pref(pr, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(align_c));
  (void)align_bias;  // the bias epilogue is only used with a 16-byte aligned bias (matmul.cu)

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  SBERT_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, d, p->a.get(), p->b.get(), p->c.get(),
                                                    p->c.get(), pr, 1, &result, &found));
  SBERT_CHECK(found > 0, "[matmul] cuBLASLt found no ", s.bf16 ? "bf16" : s.fp16 ? "fp16" : "fp32",
              " algorithm for m=", s.m, " n=", s.n,
              " k=", s.k, " (trans ", s.trans_a, s.trans_b, ", bias ", s.bias, ")");
  p->algo = result.algo;
  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

void Blas::gemm(cudaStream_t stream, const GemmShape& s, const void* A, const void* B, float* C,
                const float* bias) {
  if (s.m == 0 || s.n == 0) return;
  if (s.k == 0) {  // an empty sum: C = 0 (+ bias), or unchanged when accumulating
    SBERT_CHECK(s.accumulate && !s.bias, "[matmul] k = 0 is only supported when accumulating");
    return;
  }
  Plan& p =
      plan(s, alignment_of(A), alignment_of(B), alignment_of(C), bias ? alignment_of(bias) : 0);
  if (s.bias) set_desc(p.desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  const float alpha = 1.0f, beta = s.accumulate ? 1.0f : 0.0f;
  SBERT_CUBLAS_CHECK(cublasLtMatmul(handle_, p.desc.get(), &alpha, A, p.a.get(), B, p.b.get(),
                                    &beta, C, p.c.get(), C, p.c.get(), &p.algo, workspace_,
                                    workspace_bytes_, stream));
}

}  // namespace sbert::cuda
