// The objectives with data parallelism: `mpirun -np 2 sbert-finetune` with gist (the guide's
// embeddings all-gathered with the model's) and matryoshka against one process running the
// whole global batch, global in-batch negatives on (the loss sees every rank's rows). Skipped
// with a warning when mpirun or MPI support is missing. The precise meaning of "np 2 equals one
// process" is test_dist_mpirun.cpp's.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "dist/communicator.h"
#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;

namespace {

// A one-line config file beside the logs; everything else is an override.
std::vector<std::string> args(const fs::path& log_dir, const std::vector<std::string>& keys) {
  const fs::path data = test::fixture_dir("train_run") / "objectives.jsonl";
  fs::create_directories(log_dir.parent_path());
  test::put(log_dir.parent_path() / "obj.yaml", "name: objective_mpirun\n");
  std::vector<std::string> a = {"--config-path",
                                log_dir.parent_path().string(),
                                "--config-name",
                                "obj.yaml",
                                "restore_from_path=" + test::fixture_dir("tiny-bert").string(),
                                "model.data.data_train=" + data.string(),
                                "exp_manager.explicit_log_dir=" + log_dir.string(),
                                "trainer.max_steps=6",
                                "trainer.threads=1",
                                "trainer.num_sanity_val_steps=0",
                                "trainer.log_every_n_steps=100",
                                "exp_manager.create_checkpoint_callback=false",
                                "model.global_batch_size=8",
                                "model.micro_batch_size=4",
                                "model.encoder_seq_length=64",
                                "model.data.add_prefix=false",
                                "model.optim.lr=1e-3",
                                "model.optim.sched.warmup_steps=2",
                                "model.optim.sched.min_lr=1e-5"};
  a.insert(a.end(), keys.begin(), keys.end());
  return a;
}

std::vector<double> losses(const fs::path& log_dir) {
  std::vector<double> out;
  simdjson::dom::parser parser;
  std::istringstream in(test::slurp(log_dir / "metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element e = parser.parse(line);
    double loss = 0;
    if (!e["loss"].get(loss)) out.push_back(loss);
  }
  return out;
}

}  // namespace

TEST_CASE("mpirun -np 2 with gist and matryoshka equals one process", "[dist][mpi][objectives]") {
  if (!have_mpi() || std::system("mpirun --version >/dev/null 2>&1") != 0) {
    WARN("mpirun or MPI support missing: multi-process tests skipped");
    return;
  }
  const std::vector<std::pair<const char*, std::vector<std::string>>> runs = {
      {"gist",
       {"model.loss=gist", "model.gist_guide_model=" + test::fixture_dir("tiny-bert-cls").string(),
        "model.data.hard_negatives_to_train=1"}},
      {"matryoshka",
       {"model.loss=matryoshka", "model.matryoshka_dims=[32,16,8]",
        "model.matryoshka_weights=[1,0.5,0.25]", "model.data.hard_negatives_to_train=2"}},
  };
  for (const auto& [name, keys] : runs) {
    INFO(name);
    test::TempDir tmp;
    std::vector<std::string> argv = {"timeout",
                                     "180",
                                     "mpirun",
                                     "--allow-run-as-root",
                                     "--oversubscribe",
                                     "--bind-to",
                                     "none",
                                     "-np",
                                     "2",
                                     test::app_path("sbert-finetune").string()};
    for (const std::string& a : args(tmp / "two", keys)) argv.push_back(a);
    argv.push_back("trainer.devices=2");
    const auto two = test::run_command(argv, {"OMP_NUM_THREADS=1"});
    INFO(two.stderr_text);
    REQUIRE(two.exit_code == 0);
    const auto one =
        test::run_app("sbert-finetune", args(tmp / "one", keys), {"OMP_NUM_THREADS=1"});
    INFO(one.stderr_text);
    REQUIRE(one.exit_code == 0);
    const auto l1 = losses(tmp / "one"), l2 = losses(tmp / "two");
    REQUIRE(l1.size() == 6);
    REQUIRE(l2.size() == 6);
    double d = 0;
    for (size_t i = 0; i < l1.size(); ++i) d = std::max(d, std::fabs(l1[i] - l2[i]));
    WARN("np 2 vs 1 process, " << name << ": losses within " << d);
    CHECK(d <= 1e-5);
  }
}
