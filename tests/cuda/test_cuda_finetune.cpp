// [cuda] Fine-tuning on the device (trainer.accelerator=gpu): GradCache's encoder passes, the
// pooling, the contrastive loss (cuda/loss.cu: the embeddings never leave the device), gradient
// clipping and AdamW run on the GPU, with dropout's masks equal to the CPU's. A run must log the
// CPU's losses within 1e-4, validate as the CPU does, and a kill-and-resume on the GPU must replay
// the losses of an uninterrupted GPU run bit for bit. Under the SIMT emulator every kernel of the
// step runs with its memory and race checks on.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "finetune_util.h"
#ifdef SBERT_SIMT_EMU
#include <cuda_runtime.h>  // simt_device_malloc_count
#endif
#include "sbert/train.h"
#include "support/fixtures.h"

namespace sbert::test {

namespace {

TrainOptions options(const std::filesystem::path& log_dir, Accelerator a, int64_t steps) {
  return finetune_options(log_dir, a, steps);
}

}  // namespace

TEST_CASE("cuda fine-tune: the GPU logs the CPU's losses within 1e-4", "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  Trainer cpu(options(tmp / "cpu", Accelerator::CPU, 3),
              TrainData::from_examples(finetune_examples(8)),
              TrainData::from_examples(finetune_examples(4)));
  Trainer gpu(options(tmp / "gpu", Accelerator::GPU, 3),
              TrainData::from_examples(finetune_examples(8)),
              TrainData::from_examples(finetune_examples(4)));
  CHECK(gpu.plan().device == std::string("cuda"));
  const FinetuneRun c = run_steps(cpu), g = run_steps(gpu);
  REQUIRE(c.loss.size() == 3);
  REQUIRE(g.loss.size() == 3);
  double worst_loss = 0.0;
  for (size_t i = 0; i < 3; ++i)
    worst_loss = std::max(worst_loss, std::fabs(g.loss[i] - c.loss[i]));
  WARN("max |loss gpu - cpu| over 3 steps: " << worst_loss);
  for (size_t i = 0; i < 3; ++i) {
    INFO("step " << i + 1 << ": loss cpu " << c.loss[i] << " gpu " << g.loss[i]
                 << ", grad norm cpu " << c.grad_norm[i] << " gpu " << g.grad_norm[i]);
    CHECK(std::fabs(g.loss[i] - c.loss[i]) <= 1e-4);
    CHECK(std::fabs(g.grad_norm[i] - c.grad_norm[i]) <= 1e-4 * std::max(1.0, c.grad_norm[i]));
  }
  // Training moved the weights the same way; validation (val_loss, on the device) agrees.
  const auto vc = cpu.validate(0, false), vg = gpu.validate(0, false);
  REQUIRE(vc.count("val_loss"));
  REQUIRE(vg.count("val_loss"));
  CHECK(std::fabs(vg.at("val_loss") - vc.at("val_loss")) <= 1e-4);
  const std::vector<std::string> probe = {"the query number 3", "a passage about topic 5"};
  const Embeddings ec = cpu.model().embed(probe), eg = gpu.model().embed(probe);
  double worst = 0.0;
  for (size_t i = 0; i < ec.data.size(); ++i) {
    worst = std::max(worst,
                     std::fabs(static_cast<double>(ec.data[i]) - static_cast<double>(eg.data[i])));
  }
  INFO("max |embedding gpu - cpu| after 3 steps: " << worst);
  CHECK(worst <= 1e-4);
}

// mnrl with label smoothing and masked hard-negative slots (odd examples have one negative of
// the two trained) runs its loss on the device; matryoshka (mnrl inside) keeps the host path.
TEST_CASE("cuda fine-tune: mnrl with masked slots on the device and matryoshka on the host",
          "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  std::vector<TrainExample> ex = finetune_examples(8);
  for (size_t i = 1; i < ex.size(); i += 2) ex[i].neg_docs.resize(1);
  for (LossType loss : {LossType::MNRL, LossType::Matryoshka}) {
    const std::string name = loss == LossType::MNRL ? "mnrl" : "matryoshka";
    auto opts = [&](Accelerator a) {
      TrainOptions o = options(tmp / (name + (a == Accelerator::GPU ? "-gpu" : "-cpu")), a, 2);
      o.model.loss = loss;
      o.model.label_smoothing = 0.1;
      o.model.data.hard_negatives_to_train = 2;
      o.model.matryoshka_dims = {32, 16};
      return o;
    };
    Trainer cpu(opts(Accelerator::CPU), TrainData::from_examples(ex));
    Trainer gpu(opts(Accelerator::GPU), TrainData::from_examples(ex));
    const FinetuneRun c = run_steps(cpu), g = run_steps(gpu);
    REQUIRE(c.loss.size() == 2);
    REQUIRE(g.loss.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      INFO(name << " step " << i + 1 << ": loss cpu " << c.loss[i] << " gpu " << g.loss[i]);
      CHECK(std::fabs(g.loss[i] - c.loss[i]) <= 1e-4);
      CHECK(std::fabs(g.grad_norm[i] - c.grad_norm[i]) <= 1e-4 * std::max(1.0, c.grad_norm[i]));
    }
  }
}

TEST_CASE("cuda fine-tune: device memory is planned before the first step, no step allocates",
          "[cuda]") {
  if (!have_gpu()) return;
  // fp32, and the mixed precisions whose ops keep workspaces (casts, bias-gradient scratch).
  const Precision precision = GENERATE(Precision::FP32, Precision::BF16Mixed, Precision::FP16Mixed);
  INFO("precision " << static_cast<int>(precision));
  TempDir tmp;
  TrainOptions opt = options(tmp / "gpu", Accelerator::GPU, 3);
  opt.trainer.precision = precision;
  opt.model.data.query_seq_length = 12;
  opt.model.data.passage_seq_length = 20;
  // Lengths vary per step, and one record reaches both maximum lengths (truncated): the bound
  // the plan was made for.
  std::vector<TrainExample> ex = finetune_examples(12);
  std::string longer;
  for (int i = 0; i < 40; ++i) longer += "word" + std::to_string(i) + " ";
  ex[5] = {longer, longer, {longer, "short"}};
  Trainer gpu(opt, TrainData::from_examples(ex), TrainData::from_examples(finetune_examples(4)));
  const RunPlan plan = gpu.plan();
  const size_t in_use = cuda::device_memory_in_use();
  INFO("planned " << plan.device_memory_bytes << " bytes");
  CHECK(plan.device_memory_bytes > 0);
#ifdef SBERT_SIMT_EMU
  const size_t mallocs = simt_device_malloc_count();
#endif
  const FinetuneRun r = run_steps(gpu);
  CHECK(r.loss.size() == 3);
  CHECK(cuda::device_memory_in_use() == in_use);
#ifdef SBERT_SIMT_EMU
  CHECK(simt_device_malloc_count() == mallocs);
#endif
}

TEST_CASE("cuda fine-tune: kill and resume on the GPU replays the losses bit for bit", "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  Trainer whole(options(tmp / "whole", Accelerator::GPU, 4),
                TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun w = run_steps(whole);
  REQUIRE(w.loss.size() == 4);
  {
    Trainer first(options(tmp / "cut", Accelerator::GPU, 4),
                  TrainData::from_examples(finetune_examples(8)));
    REQUIRE(first.step().has_value());
    REQUIRE(first.step().has_value());
    first.save_checkpoint();
  }  // the process "dies" after step 2's checkpoint
  Trainer again(options(tmp / "cut", Accelerator::GPU, 4),
                TrainData::from_examples(finetune_examples(8)));
  REQUIRE(again.resume());
  CHECK(again.steps_done() == 2);
  const FinetuneRun r = run_steps(again);
  REQUIRE(r.loss.size() == 2);
  CHECK(r.loss[0] == w.loss[2]);  // bitwise
  CHECK(r.loss[1] == w.loss[3]);
  CHECK(r.grad_norm[1] == w.grad_norm[3]);
}

// The GEMMs read the bf16 copy of the weights, refreshed after each AdamW step and after the
// load and the resume's upload: a stale copy anywhere would make the resumed run differ.
TEST_CASE("cuda fine-tune: bf16-mixed kill and resume replays the losses bit for bit", "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  const auto bf16 = [&](const char* name) {
    TrainOptions o = options(tmp / name, Accelerator::GPU, 4);
    o.trainer.precision = Precision::BF16Mixed;
    return o;
  };
  Trainer whole(bf16("whole"), TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun w = run_steps(whole);
  REQUIRE(w.loss.size() == 4);
  {
    Trainer first(bf16("cut"), TrainData::from_examples(finetune_examples(8)));
    REQUIRE(first.step().has_value());
    REQUIRE(first.step().has_value());
    first.save_checkpoint();
  }
  Trainer again(bf16("cut"), TrainData::from_examples(finetune_examples(8)));
  REQUIRE(again.resume());
  const FinetuneRun r = run_steps(again);
  REQUIRE(r.loss.size() == 2);
  CHECK(r.loss[0] == w.loss[2]);  // bitwise
  CHECK(r.loss[1] == w.loss[3]);
  CHECK(r.grad_norm[1] == w.grad_norm[3]);
}

TEST_CASE("cuda fine-tune: bf16-mixed stays within 5% of fp32's losses", "[cuda]") {
  if (!have_gpu()) return;
  TempDir tmp;
  TrainOptions o32 = options(tmp / "fp32", Accelerator::GPU, 3);
  TrainOptions o16 = options(tmp / "bf16", Accelerator::GPU, 3);
  o16.trainer.precision = Precision::BF16Mixed;
  Trainer f32(o32, TrainData::from_examples(finetune_examples(8)));
  Trainer b16(o16, TrainData::from_examples(finetune_examples(8)));
  const FinetuneRun a = run_steps(f32), b = run_steps(b16);
  REQUIRE(a.loss.size() == 3);
  REQUIRE(b.loss.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("step " << i + 1 << ": loss fp32 " << a.loss[i] << " bf16-mixed " << b.loss[i]);
    CHECK(std::fabs(b.loss[i] - a.loss[i]) <= 0.05 * std::fabs(a.loss[i]));
    CHECK(b.loss[i] != a.loss[i]);  // the tensor-core path really ran
  }
  // The trained models embed alike: cosine >= 0.999 row by row.
  const std::vector<std::string> probe = {"the query number 3", "a passage about topic 5",
                                          "an unrelated text 7"};
  const Embeddings ea = f32.model().embed(probe), eb = b16.model().embed(probe);
  for (int64_t r = 0; r < ea.rows; ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t k = 0; k < ea.dim; ++k) {
      const double x = ea.row(r)[k], y = eb.row(r)[k];
      dot += x * y, na += x * x, nb += y * y;
    }
    INFO("row " << r);
    CHECK(dot / std::sqrt(na * nb) >= 0.999);
  }
}

TEST_CASE("cuda fine-tune: bf16-mixed on all-MiniLM-L6-v2 (tensor-core attention) tracks fp32",
          "[cuda]") {
  if (!have_gpu()) return;
  const auto dir = minilm_dir();
  if (!dir) {
    WARN("all-MiniLM-L6-v2 not found: skipped");
    return;
  }
  TempDir tmp;
  // Head dim 32: the GEMMs and the attention forward and backward run on the bf16 kernels.
  // The fp32 reference on the CPU (equal to the GPU's within 1e-4, above): half the emulated work.
  const auto opts = [&](const char* name, Precision p) {
    const Accelerator a = p == Precision::FP32 ? Accelerator::CPU : Accelerator::GPU;
    TrainOptions o = options(tmp / name, a, 2);
    o.restore_from_path = dir->string();
    o.model.global_batch_size = 2;
    o.model.micro_batch_size = 2;
    o.model.optim.lr = 1e-5;
    o.trainer.precision = p;
    return o;
  };
  Trainer f32(opts("fp32", Precision::FP32), TrainData::from_examples(finetune_examples(4)));
  Trainer b16(opts("bf16", Precision::BF16Mixed), TrainData::from_examples(finetune_examples(4)));
  const FinetuneRun a = run_steps(f32), b = run_steps(b16);
  REQUIRE(a.loss.size() == 2);
  REQUIRE(b.loss.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    INFO("step " << i + 1 << ": loss fp32 " << a.loss[i] << " bf16-mixed " << b.loss[i]);
    CHECK(std::fabs(b.loss[i] - a.loss[i]) <= 0.05 * std::fabs(a.loss[i]));
  }
}

}  // namespace sbert::test
