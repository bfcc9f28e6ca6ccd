// 10-step training runs of tiny-bert with each new objective against sentence-transformers'
// loss classes on PyTorch (tests/fixtures/train_run/objectives.*, written by
// tools/reference/make_objective_run_fixture.py, whose docstring describes the reference run).
// The loop is the trainer's step on its internal pieces (GradCache with 2 micro-batches, clip,
// AdamW, NeMo's cosine schedule); the labels of each batch (score, margins) come from the
// fixture's records through the data reader (checked against the script's formulas).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "api/model_impl.h"
#include "core/context.h"
#include "core/rng.h"
#include "data/train_batches.h"
#include "data/train_reader.h"
#include "io/safetensors.h"
#include "nn/bert_params.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "train/adamw.h"
#include "train/grad_cache.h"
#include "train/grad_norm.h"
#include "train/objective.h"
#include "train/objective_setup.h"
#include "train/schedule.h"

using namespace sbert;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 10, kG = 8, kMicro = 4, kMaxLen = 128;

double score_of(uint32_t r) { return static_cast<double>((37 * r) % 17) / 16.0; }
double margin_of(uint32_t r, int k) {
  return static_cast<double>((13 * r + 5 * static_cast<uint32_t>(k)) % 9) / 4.0 - 1.0;
}

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name) {
  const auto b = f.bytes(name);
  REQUIRE(f.info(name).dtype_name == "F64");
  std::vector<double> v(b.size() / sizeof(double));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

ObjectiveConfig objective(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  const std::string loss{std::string_view(doc["loss"])};
  ObjectiveConfig c;
  if (loss == "cosent") c.kind = ObjectiveKind::CoSENT;
  if (loss == "angle") c.kind = ObjectiveKind::AnglE;
  if (loss == "marginmse") c.kind = ObjectiveKind::MarginMSE;
  if (loss == "gist") c.kind = ObjectiveKind::GIST;
  if (loss == "mnrl") c.contrastive.mode = LossMode::SharedNegatives;
  simdjson::dom::array arr;
  if (!doc["matryoshka_dims"].get(arr))
    for (auto v : arr) c.matryoshka_dims.push_back(int64_t(v));
  if (!doc["matryoshka_weights"].get(arr))
    for (auto v : arr) c.matryoshka_weights.push_back(double(v));
  return c;
}

int negatives(const std::string& json) {
  simdjson::dom::parser parser;
  return static_cast<int>(int64_t(parser.parse(json)["K"]));
}

std::string string_or(const std::string& json, const char* key, std::string_view fallback) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  std::string_view m = fallback;
  if (doc[key].get(m)) m = fallback;
  return std::string(m);
}

std::string model_of(const std::string& json) { return string_or(json, "model", "tiny-bert"); }

void check_run(const std::string& name) {
  const fs::path dir = test::fixture_dir("train_run");
  const auto ref = SafetensorsFile::open(dir / "objectives.safetensors");
  const std::string spec = ref.metadata().at(name);
  const ObjectiveConfig cfg = objective(spec);
  const int K = negatives(spec);
  const auto ref_losses = read_f64(ref, name + ".losses");
  const auto ref_norms = read_f64(ref, name + ".grad_norms");

  Context ctx;
  ctx.threads = 2;
  apply_cpu_threads(ctx);
  Model model = Model::load(test::fixture_dir(model_of(spec)));
  Model::Impl& mi = model.impl();
  mi.config.hidden_dropout = 0;
  mi.config.attention_dropout = 0;
  std::unique_ptr<Model> guide;
  GradCache gc(ctx, mi);
  if (cfg.needs_guide()) {
    // gist_retok: tiny-xlmr's vocabulary is another one, so the guide re-tokenizes.
    guide = std::make_unique<Model>(
        Model::load(test::fixture_dir(string_or(spec, "guide", "tiny-bert-cls"))));
    const bool retok = guide_must_retokenize(model, *guide, kMaxLen);
    REQUIRE(retok == (name == "gist_retok"));
    GuideRetokenize r;
    if (retok) r = {&model.tokenizer(), &guide->tokenizer(), guide->impl().config.max_seq_length};
    gc.set_guide(&guide->impl(), r);
  }
  auto data = std::make_shared<const TrainDataset>(TrainDataset::open(dir / "objectives.jsonl"));
  TrainBatchOptions opt;
  opt.hard_negatives_to_train = K;
  opt.query_prefix = opt.passage_prefix = "";
  opt.query_max_length = opt.passage_max_length = kMaxLen;
  opt.global_batch_size = kG;
  opt.shuffle = false;
  opt.dedupe_in_batch = false;
  const Tokenizer& tok = model.tokenizer();
  TrainBatchBuilder builder(data, opt,
                            TrainBatchBuilder::TokenizeBatchFn(
                                [&tok](const std::vector<std::string>& texts, int max_len) {
                                  return tok.encode_batch(texts, max_len, 2);
                                }));
  std::vector<float> grads(static_cast<size_t>(mi.layout.total));
  const BertView gview = bind_bert(mi.config, mi.layout, grads.data());
  AdamW adamw(mi.layout, AdamWConfig{0.9, 0.98, 1e-8, 0.01});
  ScheduleConfig sc;
  sc.lr = 1e-3;
  sc.min_lr = 1e-5;
  sc.max_steps = kSteps;
  sc.warmup_steps = 3;
  sc.constant_steps = 0;
  const LrSchedule sched(sc);
  double max_dl = 0, max_dn = 0;
  for (int step = 0; step < kSteps; ++step) {
    TrainBatch b = builder.next();
    REQUIRE(b.size() == static_cast<size_t>(kG));
    // The reader carries the records' "score" and "margins" into the batch.
    REQUIRE(b.scores.size() == b.size());
    REQUIRE(b.margins.size() == b.size() * static_cast<size_t>(K));
    for (size_t i = 0; i < b.size(); ++i) {
      REQUIRE(b.scores[i] == score_of(b.records[i]));
      for (int k = 0; k < K; ++k) REQUIRE(b.margins[i * K + k] == margin_of(b.records[i], k));
    }
    const LossStats st =
        gc.gradients(b, kMicro, cfg, DropoutState{1234, static_cast<uint64_t>(step), true, 0},
                     gview, grads.data(), nullptr);
    const double norm = clip_grad_norm(ctx, grads.data(), mi.layout.total, 1.0);
    adamw.step(mi.weights.data(), grads.data(), sched.lr_at(step));
    const double dl = std::fabs(st.loss - ref_losses[static_cast<size_t>(step)]);
    const double dn = std::fabs(norm - ref_norms[static_cast<size_t>(step)]) /
                      ref_norms[static_cast<size_t>(step)];
    INFO(name << " step " << step + 1 << ": loss " << st.loss << " ref "
              << ref_losses[static_cast<size_t>(step)]);
    CHECK(dl <= 1e-4);
    CHECK(dn <= 1e-4);
    max_dl = std::max(max_dl, dl);
    max_dn = std::max(max_dn, dn);
  }
  std::printf(
      "objective-parity %-17s 10 steps: max |loss - ST| %.3g (tolerance 1e-4), pre-clip "
      "grad norm max relative diff %.3g\n",
      name.c_str(), max_dl, max_dn);
}

}  // namespace

TEST_CASE("10-step tiny-bert runs with each objective match sentence-transformers",
          "[train-parity][objectives]") {
  for (const char* run : {"cosent", "angle", "marginmse", "marginmse_cls", "gist", "gist_retok",
                          "matryoshka_mnrl", "matryoshka_cosent"}) {
    SECTION(run) { check_run(run); }
  }
}
