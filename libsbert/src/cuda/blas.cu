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
  SBERT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, t, static_cast<uint64_t>(rows),
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

bool uses_aux(GemmEpilogue e) {
  return e == GemmEpilogue::GeluAuxBias || e == GemmEpilogue::DGelu ||
         e == GemmEpilogue::DGeluBGrad;
}

cublasLtEpilogue_t lt_epilogue(const GemmShape& s) {
  switch (s.epilogue) {
    case GemmEpilogue::None:
      return s.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    case GemmEpilogue::GeluBias:
      return CUBLASLT_EPILOGUE_GELU_BIAS;
    case GemmEpilogue::GeluAuxBias:
      return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    case GemmEpilogue::DGeluBGrad:
      return CUBLASLT_EPILOGUE_DGELU_BGRAD;
    case GemmEpilogue::DGelu:
      return CUBLASLT_EPILOGUE_DGELU;
    case GemmEpilogue::BGradB:
      return CUBLASLT_EPILOGUE_BGRADB;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// What cuBLASLt requires of an epilogue (cublasLt.h's documentation of the epilogues and of
// CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD; BGRADB only with op(B) = B^T, as a device answers
// NOT_SUPPORTED otherwise), checked here so a caller's mistake names the op instead of
// surfacing as a cuBLAS status or a misaligned-address fault. Plans assume 16-byte aligned
// bias and aux pointers (the heuristic never sees them).
void check_epilogue(const GemmShape& s, const GemmEpilogueIo& io) {
  const GemmEpilogue e = s.epilogue;
  const int id = static_cast<int>(e);
  SBERT_CHECK(e == GemmEpilogue::None || !s.bias, "[matmul] epilogue ", id,
              " with the bias flag set: the epilogue names its bias itself");
  const bool bias_in = s.bias || e == GemmEpilogue::GeluBias || e == GemmEpilogue::GeluAuxBias;
  const bool grad = e == GemmEpilogue::DGeluBGrad || e == GemmEpilogue::BGradB;
  SBERT_CHECK(!bias_in || (io.bias && aligned16(io.bias)), "[matmul] epilogue ", id,
              " needs a 16-byte aligned bias, got ", io.bias);
  SBERT_CHECK(!grad || (io.bias_grad && aligned16(io.bias_grad)), "[matmul] epilogue ", id,
              " needs a 16-byte aligned bias gradient, got ", static_cast<void*>(io.bias_grad));
  SBERT_CHECK(!(bias_in && io.bias_grad) && !(grad && io.bias), "[matmul] epilogue ", id,
              " takes either a bias or a bias gradient, not both");
  if (uses_aux(e)) {
    SBERT_CHECK(io.aux && aligned16(io.aux), "[matmul] epilogue ", id,
                " needs a 16-byte aligned aux, got ", static_cast<void*>(io.aux));
    SBERT_CHECK(s.aux_ld >= s.m && s.aux_ld % 8 == 0, "[matmul] epilogue ", id, ": aux ld ",
                s.aux_ld, " must be a multiple of 8 and >= m = ", s.m);
  }
  SBERT_CHECK(e != GemmEpilogue::BGradB || s.trans_b,
              "[matmul] the BGRADB epilogue needs op(B) = B^T (cuBLASLt has no other)");
}

}  // namespace

struct Blas::Plan {
  DescPtr desc;
  LayoutPtr a, b, c;
  cublasLtMatmulAlgo_t algo{};
  bool found = false;  // the heuristic gave an algorithm (remembered either way)
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
  const Key key{s.trans_a, s.trans_b, s.m,          s.n,        s.k,        s.lda,
                s.ldb,     s.ldc,     s.accumulate, s.bias,     s.operands, align_a,
                align_b,   align_c,   align_bias,   s.epilogue, s.aux_ld};
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
  set_desc(d, CUBLASLT_MATMUL_DESC_EPILOGUE, lt_epilogue(s));
  if (uses_aux(s.epilogue)) set_desc(d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, s.aux_ld);
  // Stored (not transposed) shapes of A and B.
  const cudaDataType_t ab = s.operands == GemmOperands::BF16   ? CUDA_R_16BF
                            : s.operands == GemmOperands::FP16 ? CUDA_R_16F
                                                               : CUDA_R_32F;
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
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
      handle_, d, p->a.get(), p->b.get(), p->c.get(), p->c.get(), pr, 1, &result, &found);
  // A fused epilogue this cuBLASLt lacks for these types is an answer (has_algorithm), not an
  // error: the ops then run it unfused.
  if (!(st == CUBLAS_STATUS_NOT_SUPPORTED && s.epilogue != GemmEpilogue::None)) {
    SBERT_CUBLAS_CHECK(st);
  }
  p->found = st == CUBLAS_STATUS_SUCCESS && found > 0;
  p->algo = result.algo;
  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

bool Blas::has_algorithm(const GemmShape& s, const void* A, const void* B, const float* C,
                         const GemmEpilogueIo& io) {
  if (s.m == 0 || s.n == 0 || s.k == 0) return true;  // gemm() computes nothing
  return plan(s, alignment_of(A), alignment_of(B), alignment_of(C),
              io.bias ? alignment_of(io.bias) : 0)
      .found;
}

void Blas::gemm(cudaStream_t stream, const GemmShape& s, const void* A, const void* B, float* C,
                const float* bias) {
  GemmEpilogueIo io;
  io.bias = bias;
  gemm(stream, s, A, B, C, io);
}

void Blas::gemm(cudaStream_t stream, const GemmShape& s, const void* A, const void* B, float* C,
                const GemmEpilogueIo& io) {
  if (s.m == 0 || s.n == 0) return;
  check_epilogue(s, io);
  if (s.k == 0) {  // an empty sum: C = 0 (+ bias), or unchanged when accumulating
    SBERT_CHECK(s.accumulate && !s.bias && s.epilogue == GemmEpilogue::None,
                "[matmul] k = 0 is only supported when accumulating");
    return;
  }
  const float* bias = io.bias;
  Plan& p =
      plan(s, alignment_of(A), alignment_of(B), alignment_of(C), bias ? alignment_of(bias) : 0);
  SBERT_CHECK(p.found, "[matmul] cuBLASLt found no ",
              s.operands == GemmOperands::BF16   ? "bf16"
              : s.operands == GemmOperands::FP16 ? "fp16"
                                                 : "fp32",
              " algorithm for m=", s.m, " n=", s.n, " k=", s.k, " (trans ", s.trans_a, s.trans_b,
              ", bias ", s.bias, ", epilogue ", static_cast<int>(s.epilogue), ")");
  // cuBLASLt's one bias pointer is the bias (input) or its gradient (output).
  const void* bias_ptr = io.bias_grad ? static_cast<const void*>(io.bias_grad) : bias;
  if (s.bias || s.epilogue != GemmEpilogue::None) {
    set_desc(p.desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias_ptr);
  }
  if (uses_aux(s.epilogue)) {
    set_desc(p.desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, io.aux);
  }
  const float alpha = 1.0f, beta = s.accumulate ? 1.0f : 0.0f;
  SBERT_CUBLAS_CHECK(cublasLtMatmul(handle_, p.desc.get(), &alpha, A, p.a.get(), B, p.b.get(),
                                    &beta, C, p.c.get(), C, p.c.get(), &p.algo, workspace_,
                                    workspace_bytes_, stream));
}

}  // namespace sbert::cuda
