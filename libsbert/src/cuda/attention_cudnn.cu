// model.attention_backend cudnn: attention_forward / attention_backward's fp32 contracts through
// cuDNN's fused SDPA (the backend API's CUDNN_BACKEND_OPERATION_SDPA_FWD / _BWD_DESCRIPTOR,
// cuDNN >= 9.19's headers), in bf16 with fp32 softmax statistics, as attention_mixed.cu runs our
// bf16 kernels. cuDNN's fused attention has no fp32 path, so the backend is bf16-mixed only.
//
// Layout, no copies beyond attention_mixed.cu's bf16 casts: cuDNN sees Q, K, V (and dQ, dK, dV)
// as padded (nseq, heads, S, head_dim) tensors whose strides walk our packed qkv
// (T, 3H) rows (head stride head_dim, token stride 3H; K and V start H and 2H further), with a
// ragged offset per sequence (cu_seqlens * 3H elements) and the sequence lengths as
// seq_len_q / seq_len_kv (the padding mask); O and dO the same over (T, H). The one layout
// change: cuDNN's softmax statistics (natural-log log-sum-exp of the scaled scores, our lse) are
// padded (nseq, heads, S); they are scattered to our lse (heads, T) after the forward
// and gathered back before the backward, so lse keeps its meaning for every backend.
//
// Dropout: cuDNN cannot draw our Philox masks, so an attention dropout p > 0 is refused (set
// model.attention_dropout: 0, or keep model.attention_backend: ours). Plans are cached per
// (direction, nseq, S, heads, head_dim), like cuda/blas.cu's cuBLASLt plans, with the padded
// length S the longest sequence rounded up to a multiple of 64 (padded_seqlen): the lengths of
// a training run's batches vary every step, and a plan per exact length would be built (cuDNN's
// heuristics and finalization) on most steps; the seq_len tensors mask the padding. The
// handle, the plans and the buffers (offsets, lengths, padded statistics, cuDNN's workspace)
// live in the Runtime and grow, never shrink. Every cuDNN status other than success throws
// sbert::Error naming the call and cuDNN's own message.
//
// Compiled with cuDNN only in real-CUDA builds that found its header (SBERT_HAVE_CUDNN, libsbert's
// CMakeLists.txt); libcudnn.so.9 is opened at the first call (dlopen), so libsbert never needs
// it to load. In the emulator (which has no cuDNN model) and in CUDA builds without the header
// the entry points refuse. It has never run on a GPU (docs/kernels.md).
#include "core/check.h"
#include "cuda/mixed.h"

#if defined(SBERT_HAVE_CUDNN) && !defined(SBERT_SIMT_EMU)

#include <cudnn.h>
#include <dlfcn.h>

#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/common.cuh"

namespace sbert::cuda {

namespace {

// cuDNN's entry points, from libcudnn.so.9 opened at the first use (dlopen): libsbert does not
// link cuDNN, so a machine without it loads libsbert and every other op runs; only this backend
// then refuses, naming the library.
struct Api {
  void* lib = nullptr;
  decltype(&cudnnGetVersion) GetVersion = nullptr;
  decltype(&cudnnGetErrorString) GetErrorString = nullptr;
  decltype(&cudnnGetLastErrorString) GetLastErrorString = nullptr;
  decltype(&cudnnCreate) Create = nullptr;
  decltype(&cudnnDestroy) Destroy = nullptr;
  decltype(&cudnnSetStream) SetStream = nullptr;
  decltype(&cudnnBackendCreateDescriptor) BackendCreateDescriptor = nullptr;
  decltype(&cudnnBackendDestroyDescriptor) BackendDestroyDescriptor = nullptr;
  decltype(&cudnnBackendSetAttribute) BackendSetAttribute = nullptr;
  decltype(&cudnnBackendGetAttribute) BackendGetAttribute = nullptr;
  decltype(&cudnnBackendFinalize) BackendFinalize = nullptr;
  decltype(&cudnnBackendExecute) BackendExecute = nullptr;

  Api() {
    lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      fail("[attention cudnn] model.attention_backend cudnn: cannot load libcudnn.so.9 (",
           why ? why : "dlopen failed",
           "): install cuDNN 9 (e.g. PyTorch's nvidia-cudnn wheel) on LD_LIBRARY_PATH");
    }
    sym(GetVersion, "cudnnGetVersion");
    sym(GetErrorString, "cudnnGetErrorString");
    sym(GetLastErrorString, "cudnnGetLastErrorString");
    sym(Create, "cudnnCreate");
    sym(Destroy, "cudnnDestroy");
    sym(SetStream, "cudnnSetStream");
    sym(BackendCreateDescriptor, "cudnnBackendCreateDescriptor");
    sym(BackendDestroyDescriptor, "cudnnBackendDestroyDescriptor");
    sym(BackendSetAttribute, "cudnnBackendSetAttribute");
    sym(BackendGetAttribute, "cudnnBackendGetAttribute");
    sym(BackendFinalize, "cudnnBackendFinalize");
    sym(BackendExecute, "cudnnBackendExecute");
  }
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;
  ~Api() {
    if (lib) dlclose(lib);
  }

  template <class F>
  void sym(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    if (!f) {
      dlclose(lib);
      lib = nullptr;
      fail("[attention cudnn] libcudnn.so.9 has no ", name, " (cuDNN 9 needed)");
    }
  }

  [[noreturn]] void failed(const char* stmt, cudnnStatus_t s, const char* file, int line) const {
    char detail[512] = {};
    GetLastErrorString(detail, sizeof(detail));
    std::string one_line(detail);
    for (char& c : one_line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    fail("[attention cudnn] ", stmt, ": ", GetErrorString(s), " (status ", static_cast<int>(s),
         ", cuDNN ", GetVersion(), ")", one_line.empty() ? "" : ": ", one_line, " (", file, ":",
         line, ")");
  }
};

// api.F(args...) through the loaded table; any status but success throws.
// `api` (an Api) must be in scope.
#define SBERT_CUDNN_CHECK(call)                                \
  do {                                                         \
    const cudnnStatus_t sbert_s_ = api.call;                   \
    if (sbert_s_ != CUDNN_STATUS_SUCCESS) {                    \
      api.failed("cudnn" #call, sbert_s_, __FILE__, __LINE__); \
    }                                                          \
  } while (0)

// One backend descriptor, destroyed with its owner.
class Desc {
 public:
  Desc(const Api& api, cudnnBackendDescriptorType_t type) : api_(&api) {
    SBERT_CUDNN_CHECK(BackendCreateDescriptor(type, &d_));
  }
  Desc(Desc&& o) noexcept : api_(o.api_), d_(o.d_) { o.d_ = nullptr; }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  Desc& operator=(Desc&&) = delete;
  ~Desc() {
    if (d_) api_->BackendDestroyDescriptor(d_);
  }
  cudnnBackendDescriptor_t get() const { return d_; }
  // Pointer to the handle, as cudnnBackendSetAttribute takes a descriptor attribute.
  const cudnnBackendDescriptor_t* ref() const { return &d_; }

 private:
  const Api* api_;
  cudnnBackendDescriptor_t d_ = nullptr;
};

#define SBERT_CUDNN_SET(desc, attr, type, count, ptr) \
  SBERT_CUDNN_CHECK(BackendSetAttribute((desc), (attr), (type), (count), (ptr)))

// Unique ids of the variant pack.
enum Uid : int64_t {
  kQ = 1,
  kK,
  kV,
  kO,
  kStats,
  kScale,
  kSeqQ,
  kSeqKV,
  kQkvOffsets,
  kOOffsets,
  kDO,
  kDQ,
  kDK,
  kDV
};

using Dims = std::array<int64_t, 4>;

Desc tensor(const Api& api, int64_t uid, cudnnDataType_t type, const Dims& dims,
            const Dims& strides, int64_t alignment, const Desc* ragged = nullptr,
            bool by_value = false) {
  Desc t(api, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
  SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
  SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  if (by_value) {
    SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
  }
  if (ragged) {
    SBERT_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                    ragged->ref());
  }
  SBERT_CUDNN_CHECK(BackendFinalize(t.get()));
  return t;
}

// A finalized execution plan and every descriptor it was built from (kept alive with it).
struct Plan {
  std::vector<Desc> keep;
  cudnnBackendDescriptor_t plan = nullptr;  // owned by keep
  int64_t workspace = 0;                    // bytes
};

// Device block grown (the stream synchronized first: queued work may read the old one).
struct DeviceBlock {
  void* ptr = nullptr;
  size_t bytes = 0;
  void* grow(size_t need, cudaStream_t stream) {
    if (need > bytes) {
      SBERT_CUDA_CHECK(cudaStreamSynchronize(stream));
      if (ptr) SBERT_CUDA_CHECK(cudaFree(ptr));
      ptr = nullptr;
      bytes = 0;
      SBERT_CUDA_CHECK(cudaMalloc(&ptr, need));
      bytes = need;
    }
    return ptr;
  }
  ~DeviceBlock() {
    if (ptr) cudaFree(ptr);
  }
};

using PlanKey = std::tuple<bool, int64_t, int64_t, int64_t, int64_t>;  // bwd, b, s, h, d

struct State {
  Api api;  // first: loaded before, closed after everything below
  cudnnHandle_t handle = nullptr;
  std::map<PlanKey, Plan> plans;  // destroyed before the handle (declared after it)
  DeviceBlock meta;               // offsets, lengths, padded statistics
  DeviceBlock work;               // cuDNN's workspace
  ~State() {
    plans.clear();
    if (handle) api.Destroy(handle);
  }
};

State& state(Runtime& rt) {
  auto& slot = rt.impl().cudnn;
  if (!slot) {
    auto s = std::make_shared<State>();
    const Api& api = s->api;
    SBERT_CUDNN_CHECK(Create(&s->handle));
    SBERT_CUDNN_CHECK(SetStream(s->handle, stream_of(rt)));
    slot = s;
  }
  return *static_cast<State*>(slot.get());
}

// The SDPA operation's descriptors over the packed layout (see the file comment), then the
// first engine configuration of heuristic A that finalizes into a plan.
Plan build_plan(State& st, bool bwd, int64_t b, int64_t s, int64_t h, int64_t d) {
  const Api& api = st.api;
  Plan p;
  p.keep.reserve(32);  // qkv_off and o_off below point into it while tensors are added
  const int64_t H = h * d;
  const Dims off_dims{b + 1, 1, 1, 1}, len_dims{b, 1, 1, 1}, ones{1, 1, 1, 1};
  p.keep.push_back(tensor(api, kQkvOffsets, CUDNN_DATA_INT32, off_dims, ones, 4));
  const Desc* qkv_off = &p.keep.back();
  p.keep.push_back(tensor(api, kOOffsets, CUDNN_DATA_INT32, off_dims, ones, 4));
  const Desc* o_off = &p.keep.back();
  const Dims bhsd{b, h, s, d};
  const Dims qkv_strides{s * 3 * H, d, 3 * H, 1};  // b's stride unused: the ragged offsets rule
  const Dims o_strides{s * H, d, H, 1};
  auto add = [&](Desc t) -> cudnnBackendDescriptor_t {
    p.keep.push_back(std::move(t));
    return p.keep.back().get();
  };
  const cudnnDataType_t bf16 = CUDNN_DATA_BFLOAT16;
  const auto q = add(tensor(api, kQ, bf16, bhsd, qkv_strides, 16, qkv_off));
  const auto k = add(tensor(api, kK, bf16, bhsd, qkv_strides, 16, qkv_off));
  const auto v = add(tensor(api, kV, bf16, bhsd, qkv_strides, 16, qkv_off));
  const auto o = add(tensor(api, kO, bf16, bhsd, o_strides, 16, o_off));
  const auto stats = add(tensor(api, kStats, CUDNN_DATA_FLOAT, {b, h, s, 1}, {h * s, s, 1, 1}, 16));
  const auto scale = add(tensor(api, kScale, CUDNN_DATA_FLOAT, ones, ones, 4, nullptr, true));
  const auto seq_q = add(tensor(api, kSeqQ, CUDNN_DATA_INT32, len_dims, ones, 4));
  const auto seq_kv = add(tensor(api, kSeqKV, CUDNN_DATA_INT32, len_dims, ones, 4));

  const auto D = CUDNN_TYPE_BACKEND_DESCRIPTOR;
  Desc op(api, bwd ? CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR
                   : CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR);
  if (!bwd) {
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, D, 1, &q);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, D, 1, &k);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, D, 1, &v);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, D, 1, &o);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, D, 1, &stats);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, D, 1, &scale);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_QDESC, D, 1, &seq_q);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_FWD_SEQ_LEN_KVDESC, D, 1, &seq_kv);
  } else {
    const auto dO = add(tensor(api, kDO, bf16, bhsd, o_strides, 16, o_off));
    const auto dq = add(tensor(api, kDQ, bf16, bhsd, qkv_strides, 16, qkv_off));
    const auto dk = add(tensor(api, kDK, bf16, bhsd, qkv_strides, 16, qkv_off));
    const auto dv = add(tensor(api, kDV, bf16, bhsd, qkv_strides, 16, qkv_off));
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC, D, 1, &q);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC, D, 1, &k);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC, D, 1, &v);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_ODESC, D, 1, &o);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_DODDESC, D, 1, &dO);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_STATSDESC, D, 1, &stats);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_SCALEDESC, D, 1, &scale);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_SEQ_LEN_QDESC, D, 1, &seq_q);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_SEQ_LEN_KVDESC, D, 1, &seq_kv);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_DQDESC, D, 1, &dq);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_DKDESC, D, 1, &dk);
    SBERT_CUDNN_SET(op.get(), CUDNN_ATTR_OPERATION_SDPA_BWD_DVDESC, D, 1, &dv);
  }
  SBERT_CUDNN_CHECK(BackendFinalize(op.get()));
  const auto op_raw = add(std::move(op));

  Desc graph(api, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  SBERT_CUDNN_SET(graph.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &st.handle);
  SBERT_CUDNN_SET(graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, D, 1, &op_raw);
  SBERT_CUDNN_CHECK(BackendFinalize(graph.get()));
  const auto graph_raw = add(std::move(graph));

  // Heuristic mode A's configurations in order, then the fallback list's: the first that
  // finalizes into a plan wins.
  int64_t tried = 0;
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    Desc heur(api, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    SBERT_CUDNN_SET(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, D, 1, &graph_raw);
    SBERT_CUDNN_SET(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    last = api.BackendFinalize(heur.get());
    if (last != CUDNN_STATUS_SUCCESS) continue;  // no list in this mode
    int64_t count = 0;
    SBERT_CUDNN_CHECK(
        BackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, D, 0, &count, nullptr));
    std::vector<Desc> configs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (int64_t i = 0; i < count; ++i) {
      configs.emplace_back(api, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      raw.push_back(configs.back().get());
    }
    int64_t got = 0;
    if (count > 0) {
      SBERT_CUDNN_CHECK(BackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, D, count,
                                            &got, raw.data()));
    }
    for (int64_t i = 0; i < got; ++i) {
      ++tried;
      Desc plan(api, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      SBERT_CUDNN_SET(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                      &st.handle);
      SBERT_CUDNN_SET(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, D, 1, &raw[i]);
      last = api.BackendFinalize(plan.get());
      if (last != CUDNN_STATUS_SUCCESS) continue;  // this engine refuses the shape: the next
      int64_t n = 0;
      SBERT_CUDNN_CHECK(BackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                            CUDNN_TYPE_INT64, 1, &n, &p.workspace));
      p.plan = plan.get();
      p.keep.push_back(std::move(heur));
      p.keep.push_back(std::move(plan));
      for (auto& c : configs) p.keep.push_back(std::move(c));
      return p;
    }
  }
  fail("[attention cudnn] no cuDNN ", api.GetVersion(), " engine runs the fused SDPA ",
       bwd ? "backward" : "forward", " for nseq ", b, ", padded length ", s, ", heads ", h,
       ", head_dim ", d, " in bf16 (", tried,
       " configurations of heuristic modes A and fallback tried, last status ",
       api.GetErrorString(last), ")");
}

Plan& plan_for(State& st, bool bwd, int64_t b, int64_t s, int64_t h, int64_t d) {
  const PlanKey key{bwd, b, s, h, d};
  auto it = st.plans.find(key);
  if (it == st.plans.end()) it = st.plans.emplace(key, build_plan(st, bwd, b, s, h, d)).first;
  return it->second;
}

// ---- metadata kernels ---------------------------------------------------------------------
constexpr int kThreads = 256;

// qkv_off / o_off (nseq + 1): element offsets of each sequence's first row; len (nseq).
__global__ void meta_kernel(int32_t* qkv_off, int32_t* o_off, int32_t* len,
                            const int64_t* cu_seqlens, int64_t nseq, int64_t H) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i > nseq) return;
  qkv_off[i] = static_cast<int32_t>(cu_seqlens[i] * 3 * H);
  o_off[i] = static_cast<int32_t>(cu_seqlens[i] * H);
  if (i < nseq) len[i] = static_cast<int32_t>(cu_seqlens[i + 1] - cu_seqlens[i]);
}

// stats (nseq, heads, S) padded <-> lse (heads, T): to_lse scatters the valid rows, else gathers
// them (padding rows 0).
__global__ void stats_kernel(float* stats, float* lse, const int64_t* cu_seqlens, int64_t nseq,
                             int64_t heads, int64_t S, bool to_lse) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= nseq * heads * S) return;
  const int64_t s = i % S, h = (i / S) % heads, b = i / (S * heads);
  const int64_t T = cu_seqlens[nseq];
  const int64_t start = cu_seqlens[b], n = cu_seqlens[b + 1] - start;
  if (to_lse) {
    if (s < n) lse[h * T + start + s] = stats[i];
  } else {
    stats[i] = s < n ? lse[h * T + start + s] : 0.0f;
  }
}

unsigned grid(int64_t n, const char* op) {
  const int64_t g = (n + kThreads - 1) / kThreads;
  SBERT_CHECK(g <= 0x7fffffff, "[", op, "] grid of ", g, " blocks is too large");
  return static_cast<unsigned>(g > 0 ? g : 1);
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

// The metadata of one call in st.meta: [qkv_off | o_off | len | stats (nseq, heads, S)].
struct Meta {
  int32_t* qkv_off;
  int32_t* o_off;
  int32_t* len;
  float* stats;
};

Meta make_meta(State& st, const int64_t* cu_seqlens, int64_t nseq, int64_t S, int64_t heads,
               int64_t H, Runtime& rt) {
  const size_t offs = align256(static_cast<size_t>(nseq + 1) * sizeof(int32_t));
  const size_t lens = align256(static_cast<size_t>(nseq) * sizeof(int32_t));
  const size_t stats = static_cast<size_t>(nseq * heads * S) * sizeof(float);
  auto* base = static_cast<char*>(st.meta.grow(2 * offs + lens + stats, stream_of(rt)));
  Meta m{reinterpret_cast<int32_t*>(base), reinterpret_cast<int32_t*>(base + offs),
         reinterpret_cast<int32_t*>(base + 2 * offs),
         reinterpret_cast<float*>(base + 2 * offs + lens)};
  simt::launch<meta_kernel>({grid(nseq + 1, "attention cudnn"), kThreads, 0, stream_of(rt)},
                            m.qkv_off, m.o_off, m.len, cu_seqlens, nseq, H);
  SBERT_LAUNCH_CHECK("attention cudnn");
  return m;
}

void execute(State& st, Plan& plan, const std::vector<int64_t>& uids,
             const std::vector<void*>& ptrs, Runtime& rt) {
  const Api& api = st.api;
  void* ws = plan.workspace > 0 ? st.work.grow(static_cast<size_t>(plan.workspace), stream_of(rt))
                                : nullptr;
  Desc pack(api, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  SBERT_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                  static_cast<int64_t>(uids.size()), uids.data());
  SBERT_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                  static_cast<int64_t>(ptrs.size()), ptrs.data());
  SBERT_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
  SBERT_CUDNN_CHECK(BackendFinalize(pack.get()));
  SBERT_CUDNN_CHECK(BackendExecute(st.handle, plan.plan, pack.get()));
}

// The padded length of cuDNN's tensors for a batch whose longest sequence is max_seqlen.
int64_t padded_seqlen(int64_t max_seqlen) { return (max_seqlen + 63) / 64 * 64; }

void check_args(const char* op, int64_t tokens, int64_t max_seqlen, int64_t heads, int64_t head_dim,
                const DropoutSpec& dropout) {
  SBERT_CHECK(!dropout.active(), "[", op,
              "] model.attention_backend cudnn: attention dropout p = ", dropout.p,
              " is not supported (cuDNN cannot draw libsbert's dropout masks); set "
              "model.attention_dropout: 0 or model.attention_backend: ours");
  SBERT_CHECK(tokens >= 0 && max_seqlen >= 0, "[", op,
              "] model.attention_backend cudnn needs the batch's token count and longest "
              "sequence, got ",
              tokens, " and ", max_seqlen);
  SBERT_CHECK(head_dim % 8 == 0 && head_dim >= 8 && head_dim <= 128, "[", op,
              "] model.attention_backend cudnn: head_dim ", head_dim,
              " is not one cuDNN's fused SDPA takes (a multiple of 8 up to 128)");
  SBERT_CHECK(tokens * 3 * heads * head_dim < (int64_t{1} << 31), "[", op,
              "] model.attention_backend cudnn: ", tokens, " tokens x 3 x ", heads * head_dim,
              " exceed cuDNN's int32 ragged offsets");
}

}  // namespace

bool cudnn_attention_built() { return true; }

void attention_forward_cudnn(const AttentionForwardArgs<float>& a, Runtime& rt) {
  const int64_t tokens = a.dims.tokens, nseq = a.nseq, heads = a.heads, head_dim = a.head_dim;
  check_args("attention_forward", tokens, a.dims.max_seqlen, heads, head_dim, a.dropout);
  if (tokens == 0 || nseq == 0) return;
  SBERT_CHECK(a.lse != nullptr, "[attention_forward] model.attention_backend cudnn needs lse");
  const int64_t H = heads * head_dim;
  State& st = state(rt);
  const int64_t S = padded_seqlen(a.dims.max_seqlen);
  Plan& plan = plan_for(st, false, nseq, S, heads, head_dim);
  const Meta m = make_meta(st, a.cu_seqlens, nseq, S, heads, H, rt);
  const AttentionForwardBf16 io = attention_forward_operands(a, rt);
  auto* q = const_cast<uint16_t*>(io.qkv);  // cuDNN's variant pack takes void*; it reads Q, K, V
  float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  execute(st, plan, {kQ, kK, kV, kO, kStats, kScale, kSeqQ, kSeqKV, kQkvOffsets, kOOffsets},
          {q, q + H, q + 2 * H, io.out, m.stats, &scale, m.len, m.len, m.qkv_off, m.o_off}, rt);
  attention_forward_widen(a, io.out, rt);
  simt::launch<stats_kernel>(
      {grid(nseq * heads * S, "attention_forward"), kThreads, 0, stream_of(rt)}, m.stats, a.lse,
      a.cu_seqlens, nseq, heads, S, true);
  SBERT_LAUNCH_CHECK("attention_forward");
}

void attention_backward_cudnn(const AttentionBackwardArgs<float>& a, Runtime& rt) {
  const int64_t tokens = a.dims.tokens, nseq = a.nseq, heads = a.heads, head_dim = a.head_dim;
  check_args("attention_backward", tokens, a.dims.max_seqlen, heads, head_dim, a.dropout);
  if (tokens == 0 || nseq == 0) return;
  const int64_t H = heads * head_dim;
  State& st = state(rt);
  const int64_t S = padded_seqlen(a.dims.max_seqlen);
  Plan& plan = plan_for(st, true, nseq, S, heads, head_dim);
  const Meta m = make_meta(st, a.cu_seqlens, nseq, S, heads, H, rt);
  simt::launch<stats_kernel>(
      {grid(nseq * heads * S, "attention_backward"), kThreads, 0, stream_of(rt)}, m.stats,
      const_cast<float*>(a.lse), a.cu_seqlens, nseq, heads, S, false);
  SBERT_LAUNCH_CHECK("attention_backward");
  const AttentionBackwardBf16 io = attention_backward_operands(a, rt);
  // cuDNN's variant pack takes void*; it only reads Q, K, V, O and dO.
  auto* q = const_cast<uint16_t*>(io.qkv);
  uint16_t* dq = io.dqkv;
  float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  execute(
      st, plan,
      {kQ, kK, kV, kO, kDO, kStats, kScale, kSeqQ, kSeqKV, kQkvOffsets, kOOffsets, kDQ, kDK, kDV},
      {q, q + H, q + 2 * H, const_cast<uint16_t*>(io.out), const_cast<uint16_t*>(io.dout),
       m.stats, &scale, m.len, m.len, m.qkv_off, m.o_off, dq, dq + H, dq + 2 * H},
      rt);
  from_bf16(a.dqkv, dq, tokens * 3 * H, rt);
}

}  // namespace sbert::cuda

#else  // no cuDNN in this build (CPU stubs are in cuda_stubs/stubs.cpp)

namespace sbert::cuda {

namespace {
[[noreturn]] void no_cudnn() { fail(kNoCudnn); }
}  // namespace

bool cudnn_attention_built() { return false; }

void attention_forward_cudnn(const AttentionForwardArgs<float>&, Runtime&) { no_cudnn(); }
void attention_backward_cudnn(const AttentionBackwardArgs<float>&, Runtime&) { no_cudnn(); }

}  // namespace sbert::cuda

#endif
