// The Trainer on several datasets (model.data.train_ds) and on CSV/TSV data: a run stopped and
// resumed from its checkpoint takes the same steps as one that was not; validation_ds gives
// val_loss. tiny-bert, a few steps.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "sbert/train.h"
#include "support/fixtures.h"

using Catch::Matchers::Contains;

namespace {

void write(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

// Two datasets: 12 pairs in CSV, 8 triplets in JSONL with other key names.
sbert::TrainOptions options(const sbert::test::TempDir& tmp, const std::string& run) {
  std::string csv = "anchor,positive\n";
  for (int i = 0; i < 12; ++i) {
    csv += "question " + std::to_string(i) + ",\"an answer, number " + std::to_string(i) + "\"\n";
  }
  write(tmp / "pairs.csv", csv);
  std::string jsonl;
  for (int i = 0; i < 8; ++i) {
    const std::string n = std::to_string(i);
    jsonl += "{\"a\": \"triplet query " + n + "\", \"p\": \"the right text " + n +
             "\", \"n\": \"a wrong text " + n + "\"}\n";
  }
  write(tmp / "triplets.jsonl", jsonl);
  write(tmp / "val.tsv", "sentence1\tsentence2\tscore\nx one\ty one\t1\nx two\ty two\t0.5\n"
                         "x three\ty three\t0\nx four\ty four\t0.2\n");
  sbert::TrainOptions opt;
  opt.restore_from_path = sbert::test::fixture_dir("tiny-bert").string();
  opt.exp_manager.explicit_log_dir = (tmp / run).string();
  opt.trainer.max_steps = 6;
  opt.trainer.threads = 1;
  opt.model.global_batch_size = 4;
  opt.model.micro_batch_size = 2;
  opt.model.loss = sbert::LossType::MNRL;
  auto& d = opt.model.data;
  d.hard_negatives_to_train = 1;
  d.negative_selection = sbert::NegativeSelection::Random;
  sbert::DatasetSpec pairs;
  pairs.paths = {(tmp / "pairs.csv").string()};
  sbert::DatasetSpec triplets;
  triplets.paths = {(tmp / "triplets.jsonl").string()};
  triplets.columns.anchor = "a";
  triplets.columns.positive = "p";
  triplets.columns.negatives = {"n"};
  triplets.weight = 2;
  d.train_ds = {pairs, triplets};
  sbert::DatasetSpec val;
  val.paths = {(tmp / "val.tsv").string()};
  d.validation_ds = {val};
  return opt;
}

}  // namespace

TEST_CASE("several datasets: a stopped and resumed run takes the same steps", "[train-data][api]") {
  sbert::test::TempDir tmp;
  std::vector<double> whole;
  std::vector<std::string> messages;
  {
    sbert::Trainer t(options(tmp, "whole"));
    t.set_message_handler(
        [&](sbert::MessageLevel, const std::string& m) { messages.push_back(m); });
    // 3 pair batches and 2 x 2 triplet batches a round.
    CHECK(t.steps_per_epoch() == 7);
    CHECK(t.plan().train_examples == 20);
    while (auto s = t.step()) whole.push_back(s->loss);
    const auto v = t.validate();
    CHECK(std::isfinite(v.at("val_loss")));
  }
  REQUIRE(whole.size() == 6);
  REQUIRE_FALSE(messages.empty());
  CHECK_THAT(messages[0], Contains("2 training datasets, a batch from one at a time "
                                   "(proportional, 7 batches a round)"));

  std::vector<double> resumed;
  {
    sbert::Trainer t(options(tmp, "cut"));
    for (int i = 0; i < 4; ++i) resumed.push_back(t.step()->loss);
    t.save_checkpoint();
  }
  {
    sbert::Trainer t(options(tmp, "cut"));
    REQUIRE(t.resume());
    CHECK(t.steps_done() == 4);
    while (auto s = t.step()) resumed.push_back(s->loss);
  }
  REQUIRE(resumed.size() == 6);
  for (size_t i = 0; i < 6; ++i) CHECK(resumed[i] == whole[i]);  // bitwise
}

TEST_CASE("a pairs CSV trains from data_train alone", "[train-data][api]") {
  sbert::test::TempDir tmp;
  sbert::TrainOptions opt = options(tmp, "pairs");
  opt.model.data.train_ds.clear();
  opt.model.data.validation_ds.clear();
  opt.model.data.data_train = {(tmp / "pairs.csv").string()};
  opt.trainer.max_steps = 2;
  sbert::Trainer t(opt);
  CHECK(t.plan().train_examples == 12);
  int steps = 0;
  while (auto s = t.step()) {
    CHECK(std::isfinite(s->loss));
    ++steps;
  }
  CHECK(steps == 2);
}

// The must-show: a pairs-only CSV and a scored-pairs TSV fine-tune from the shipped
// configs alone (tiny-bert in place of all-MiniLM-L6-v2, two steps).
TEST_CASE("conf/pairs_csv.yaml and conf/stsb_cosent.yaml train from the config alone",
          "[train-data][api]") {
  sbert::test::TempDir tmp;
  for (const char* name : {"pairs_csv", "stsb_cosent"}) {
    const std::string log = (tmp / name).string();
    sbert::TrainOptions opt = sbert::TrainOptions::from_nemo_yaml(
        sbert::test::source_dir() / "conf", name,
        {"restore_from_path=" + sbert::test::fixture_dir("tiny-bert").string(),
         "exp_manager.explicit_log_dir=" + log, "trainer.max_epochs=-1", "trainer.max_steps=2",
         "trainer.threads=1"});
    sbert::Trainer t(opt);
    int steps = 0;
    while (auto s = t.step()) {
      CHECK(std::isfinite(s->loss));
      ++steps;
    }
    CHECK(steps == 2);
    CHECK(t.plan().train_examples == (std::string(name) == "pairs_csv" ? 16 : 64));
  }
}
