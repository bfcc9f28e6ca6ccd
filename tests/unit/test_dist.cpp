// Data parallelism without launching processes: launch detection, the single backend, gradient
// buckets and their early launch from backward, per-rank batch shards, config checks.
// The multi-process runs themselves are in test_dist_mpirun.cpp.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include "api/model_impl.h"
#include "dist/communicator.h"
#include "dist/grad_reducer.h"
#include "dist/launch.h"
#include "sbert/error.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "train/config.h"
#include "train/grad_cache.h"
#include "train/trainer.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

LaunchInfo launch_from(std::map<std::string, std::string> env) {
  return detect_launch([env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

// Records the bulk all-reduces started (and pretends to be rank 0 of 2); data is not touched.
class RecordingCommunicator final : public Communicator {
 public:
  const char* backend() const override { return "recording"; }
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 2; }
  Device bulk_device() const override { return Device::CPU; }
  void host_all_reduce_sum(double*, int64_t) override {}
  void host_broadcast(void*, size_t, int) override {}
  void host_all_gather(const void*, size_t, void*) override {}
  void barrier() override {}
  Request start_all_reduce_sum(float* data, int64_t n) override {
    started.push_back({data, n});
    events.push_back("start");
    return static_cast<Request>(started.size());
  }
  void wait(Request r) override {
    waited.push_back(r);
    events.push_back("wait");
  }
  void all_gather(const void*, size_t, void*) override {}
  [[noreturn]] void abort(int) override { throw Error("abort"); }

  std::vector<std::pair<float*, int64_t>> started;
  std::vector<Request> waited;
  std::vector<std::string> events;
};

}  // namespace

TEST_CASE("launch detection from the environment", "[dist]") {
  const LaunchInfo none = launch_from({});
  CHECK(none.launcher == "none");
  CHECK_FALSE(none.multi_process());

  const LaunchInfo ompi = launch_from({{"OMPI_COMM_WORLD_SIZE", "4"},
                                       {"OMPI_COMM_WORLD_RANK", "3"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  CHECK(ompi.launcher == "mpirun");
  CHECK(ompi.size == 4);
  CHECK(ompi.rank == 3);
  CHECK(ompi.local_rank == 1);
  CHECK(ompi.local_size == 2);

  // srun: the step's task count wins over the allocation's.
  const LaunchInfo srun = launch_from({{"SLURM_PROCID", "5"},
                                       {"SLURM_NTASKS", "16"},
                                       {"SLURM_STEP_NUM_TASKS", "8"},
                                       {"SLURM_LOCALID", "1"}});
  CHECK(srun.launcher == "srun");
  CHECK(srun.size == 8);
  CHECK(srun.rank == 5);
  CHECK(srun.local_rank == 1);

  const LaunchInfo pmi = launch_from({{"PMI_SIZE", "2"}, {"PMI_RANK", "1"}});
  CHECK(pmi.launcher == "pmi");
  CHECK(pmi.size == 2);
  CHECK(pmi.rank == 1);

  CHECK_THROWS_WITH(launch_from({{"OMPI_COMM_WORLD_SIZE", "two"}}),
                    Contains("OMPI_COMM_WORLD_SIZE='two'"));
  CHECK_THROWS_WITH(launch_from({{"PMI_SIZE", "2"}, {"PMI_RANK", "2"}}), Contains("rank 2 of 2"));
}

TEST_CASE("the single backend is the identity", "[dist]") {
  auto comm = make_single_communicator();
  CHECK(comm->size() == 1);
  CHECK(comm->rank() == 0);
  double d[2] = {1.5, -2};
  comm->host_all_reduce_sum(d, 2);
  CHECK(d[0] == 1.5);
  float f[3] = {1, 2, 3}, g[3] = {};
  comm->wait(comm->start_all_reduce_sum(f, 3));
  CHECK(f[2] == 3);
  comm->all_gather(f, sizeof f, g);
  CHECK(g[1] == 2);
  CHECK(comm->host_broadcast_string("latest", 0) == "latest");
  CHECK_THROWS_WITH(comm->host_broadcast(d, 8, 1), Contains("rank 1"));
}

TEST_CASE("gradient buckets cover the block and launch as backward completes layers", "[dist]") {
  const auto dir = test::fixture_dir("tiny-bert");
  Model model = Model::load(dir.string());
  const Model::Impl& m = model.impl();
  std::vector<float> grads(static_cast<size_t>(m.layout.total), 0.0f);

  SECTION("one bucket per layer, top first, embeddings last") {
    RecordingCommunicator comm;
    GradReducer red(comm, m.config, m.layout, grads.data(), 1);
    const auto& b = red.buckets();
    REQUIRE(b.size() == static_cast<size_t>(m.config.num_layers) + 1);
    CHECK(b.front().end == m.layout.total);
    CHECK(b.back().begin == 0);
    CHECK(b.back().last_unit == -1);
    for (size_t i = 1; i < b.size(); ++i) CHECK(b[i].end == b[i - 1].begin);

    // Driven by a real backward through GradCache: every bucket starts before finish().
    GradCache gc(Context{}, m);
    TrainBatch batch;
    batch.num_negatives = 0;
    for (int i = 0; i < 4; ++i) {
      batch.records.push_back(static_cast<uint32_t>(i));
      batch.queries.push_back({101, 200 + i, 102});
      batch.positives.push_back({101, 300 + i, 400 + i, 102});
    }
    BertView gview = bind_bert(m.config, m.layout, grads.data());
    std::vector<int> order;
    red.begin();
    gc.gradients(batch, 2, LossConfig{}, DropoutState{7, 0, true, 0}, gview, grads.data(), nullptr,
                 [&](int layer) {
                   order.push_back(layer);
                   red.unit_ready(layer);
                 });
    // Only the last of the two micro-batches reports.
    CHECK(order == std::vector<int>{1, 0, -1});
    CHECK(red.launched_early() == 3);
    CHECK(comm.started.size() == 3);
    red.finish();
    CHECK(comm.waited.size() == 3);
    CHECK(comm.events ==
          std::vector<std::string>{"start", "start", "start", "wait", "wait", "wait"});
    CHECK(comm.started[0].first == grads.data() + b[0].begin);
  }
  SECTION("a large bucket size gives one bucket, launched with the embeddings") {
    RecordingCommunicator comm;
    GradReducer red(comm, m.config, m.layout, grads.data());
    REQUIRE(red.buckets().size() == 1);
    CHECK(red.buckets()[0].begin == 0);
    CHECK(red.buckets()[0].end == m.layout.total);
    red.begin();
    red.unit_ready(1);
    red.unit_ready(0);
    CHECK(comm.started.empty());
    red.unit_ready(-1);
    CHECK(comm.started.size() == 1);
    red.finish();
    CHECK(comm.waited.size() == 1);
  }
  SECTION("nothing happens in one process") {
    auto single = make_single_communicator();
    GradReducer red(*single, m.config, m.layout, grads.data(), 1);
    red.begin();
    red.unit_ready(-1);
    red.finish();
    CHECK(red.launched_early() == 0);
  }
}

TEST_CASE("each rank's shard of a global batch is its slice, tokenized alone", "[dist]") {
  test::TempDir tmp;
  std::string jsonl;
  for (int i = 0; i < 30; ++i) {
    // Every third record repeats a query: dedupe defers some, so shards must agree on that.
    const int q = i % 3 == 2 ? i - 1 : i;
    jsonl += "{\"query\": \"q" + std::to_string(q) + "\", \"pos_doc\": \"p" + std::to_string(i) +
             "\", \"neg_doc\": [\"n" + std::to_string(i) + "\", \"m" + std::to_string(i) + "\"]}\n";
  }
  { std::ofstream(tmp / "t.jsonl") << jsonl; }
  auto data = std::make_shared<const TrainDataset>(TrainDataset::open({tmp / "t.jsonl"}, {}));
  TrainBatchOptions opt;
  opt.global_batch_size = 6;
  opt.hard_negatives_to_train = 3;
  opt.shuffle = true;
  std::multiset<std::string> tokenized[3];  // per rank, over the whole run
  auto make = [&](std::multiset<std::string>* seen) {
    return TrainBatchBuilder(data, opt, [seen](const std::string& text, int) {
      if (seen) seen->insert(text);
      return std::vector<int32_t>(text.size() % 5 + 1, static_cast<int32_t>(text.size()));
    });
  };
  TrainBatchBuilder whole = make(nullptr);
  std::vector<TrainBatchBuilder> ranks;
  for (int r = 0; r < 3; ++r) ranks.push_back(make(&tokenized[r]));
  for (int step = 0; step < 12; ++step) {  // several epochs
    const TrainBatch g = whole.next();
    for (int r = 0; r < 3; ++r) {
      const TrainBatch s = ranks[static_cast<size_t>(r)].next_shard(r, 3);
      const TrainBatch want = slice_for_rank(g, r, 3);
      REQUIRE(s.records == want.records);
      CHECK(s.epoch == want.epoch);
      CHECK(s.queries == want.queries);
      CHECK(s.positives == want.positives);
      CHECK(s.negatives == want.negatives);
      CHECK(s.negative_mask == want.negative_mask);
      CHECK(ranks[static_cast<size_t>(r)].position().to_json() == whole.position().to_json());
    }
  }
  // A rank tokenizes the queries of its own rows only.
  std::multiset<std::string> seen;
  TrainBatchBuilder r0 = make(&seen);
  const TrainBatch s0 = r0.next_shard(0, 3);
  size_t queries = 0;
  for (const std::string& t : seen) queries += t.rfind("query: ", 0) == 0;
  CHECK(queries == s0.size());
  CHECK_THROWS_WITH(make(nullptr).next_shard(0, 4), Contains("multiple of the number of ranks"));
}

TEST_CASE("trainer.devices x num_nodes must match the processes of the job", "[dist]") {
  test::TempDir tmp;
  std::ofstream(tmp / "t.jsonl") << "{\"query\": \"a\", \"pos_doc\": \"b\", \"neg_doc\": []}\n"
                                    "{\"query\": \"c\", \"pos_doc\": \"d\", \"neg_doc\": []}\n";
  const TrainConfig cfg = parse_train_config(
      "restore_from_path: " + test::fixture_dir("tiny-bert").string() +
          "\ntrainer:\n  devices: 2\n  max_steps: 1\nmodel:\n  global_batch_size: 2\n"
          "  micro_batch_size: 1\n  data:\n    data_train: " +
          (tmp / "t.jsonl").string() +
          "\nexp_manager:\n  explicit_log_dir: " + (tmp / "log").string() + "\n",
      tmp / "ft.yaml");
  CHECK_THROWS_WITH(train(cfg), Contains("trainer.devices x trainer.num_nodes is 2 x 1 = 2") &&
                                    Contains("this job has 1 process") && Contains("mpirun -np 2"));
  CHECK_FALSE(fs::exists(tmp / "log/checkpoints"));
}
