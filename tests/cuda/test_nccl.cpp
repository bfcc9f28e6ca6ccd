// The NCCL communicator on one GPU (tests/gpu/run.sh): initialisation from a unique id, bucketed
// gradient all-reduce launched early from the compute stream's work, all-gather, and the same
// results as the CPU (single) backend. Compiled only when libsbert has NCCL; skipped (WARN)
// without a GPU. Multi-GPU runs are not covered here.
#include <catch2/catch.hpp>

#include "dist/communicator.h"

#ifdef SBERT_TEST_NCCL
#include <cuda_runtime.h>

#include <numeric>

#include "api/model_impl.h"
#include "dist/grad_reducer.h"
#include "dist/launch.h"
#include "sbert/model.h"
#include "support/fixtures.h"

using namespace sbert;

namespace {

template <class T>
struct DeviceArray {
  explicit DeviceArray(size_t count) : n(count) {
    REQUIRE(cudaMalloc(&ptr, n * sizeof(T)) == cudaSuccess);
  }
  ~DeviceArray() { cudaFree(ptr); }
  void upload(const std::vector<T>& v) {
    REQUIRE(cudaMemcpy(ptr, v.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> v(n);
    REQUIRE(cudaMemcpy(v.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
  T* ptr = nullptr;
  size_t n;
};

}  // namespace

TEST_CASE("NCCL on one GPU matches the CPU backend", "[nccl][cuda]") {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
#ifdef SBERT_SIMT_EMU
    FAIL("the SIMT emulator build has no CUDA device: the [nccl] test would not run");
#endif
    WARN("no GPU: NCCL test skipped");
    return;
  }
  CommOptions opt;
  opt.gpu = true;
  opt.timeout = std::chrono::seconds(60);
  // Under `mpirun -np 1` the host side is MPI (as in a real job), else the single backend.
  const bool under_mpi = detect_launch().launcher != "none" && have_mpi();
  std::unique_ptr<Communicator> nccl = make_nccl_communicator(
      under_mpi ? make_mpi_communicator(opt) : make_single_communicator(), opt);
  std::unique_ptr<Communicator> cpu = make_single_communicator();
  REQUIRE(nccl->size() == 1);
  CHECK(std::string(nccl->backend()) == "nccl");
  CHECK(nccl->bulk_device() == Device::CUDA);

  const Model model = Model::load(test::fixture_dir("tiny-bert").string());
  const Model::Impl& m = model.impl();
  const auto total = static_cast<size_t>(m.layout.total);
  std::vector<float> host(total);
  for (size_t i = 0; i < total; ++i)
    host[i] = static_cast<float>((i * 2654435761u) % 1000) * 1e-3f - 0.5f;

  // Gradient buckets: one per layer, launched as "backward" reports each layer.
  DeviceArray<float> dev(total);
  dev.upload(host);
  GradReducer on_gpu(*nccl, m.config, m.layout, dev.ptr, 1);
  std::vector<float> cpu_grads = host;
  GradReducer on_cpu(*cpu, m.config, m.layout, cpu_grads.data(), 1);
  for (GradReducer* r : {&on_gpu, &on_cpu}) {
    r->begin();
    for (int l = m.config.num_layers - 1; l >= -1; --l) r->unit_ready(l);
    r->finish();
  }
  CHECK(dev.download() == cpu_grads);

  // All-gather of embeddings-sized rows.
  DeviceArray<float> send(96), recv(96);
  std::vector<float> rows(96);
  std::iota(rows.begin(), rows.end(), 0.5f);
  send.upload(rows);
  nccl->all_gather(send.ptr, 96 * sizeof(float), recv.ptr);
  std::vector<float> cpu_recv(96);
  cpu->all_gather(rows.data(), 96 * sizeof(float), cpu_recv.data());
  CHECK(recv.download() == cpu_recv);

  // Host collectives go through the host communicator.
  double d = 2.5;
  nccl->host_all_reduce_sum(&d, 1);
  CHECK(d == 2.5);
}

#else

TEST_CASE("NCCL on one GPU matches the CPU backend", "[nccl][cuda]") {
  CHECK_FALSE(sbert::have_nccl());
#ifdef SBERT_SIMT_EMU
  FAIL("the SIMT emulator build serves NCCL with in-process ranks: this test must run");
#endif
  WARN("libsbert built without NCCL: NCCL test skipped");
}

#endif
