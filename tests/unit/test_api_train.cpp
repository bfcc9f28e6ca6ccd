// The public training API (sbert/train.h) without a model: options built in code, in-memory
// data, the config's key errors.
#include <catch2/catch.hpp>

#include "sbert/train.h"

using Catch::Contains;

TEST_CASE("TrainOptions::validate names the key of a bad value set in code", "[api]") {
  sbert::TrainOptions o;
  CHECK_NOTHROW(o.validate());
  o.model.optim.lr = -1;
  CHECK_THROWS_WITH(o.validate(), Contains("key 'model.optim.lr' must be positive, got -1"));
  o.model.optim.lr = 1e-5;
  o.model.global_batch_size = 6;
  o.model.micro_batch_size = 4;
  CHECK_THROWS_WITH(o.validate(), Contains("must be a multiple of micro_batch_size"));
}

TEST_CASE("from_nemo_yaml_text: typed keys, file:line and override origins, suggestions",
          "[api]") {
  const std::string base =
      "restore_from_path: m\nmodel:\n  data:\n    data_train: t.jsonl\n"
      "    negative_selection: random\n  loss: mnrl\ntrainer:\n  precision: bf16\n";
  const sbert::TrainOptions o = sbert::TrainOptions::from_nemo_yaml_text(base, "a.yaml");
  CHECK(o.model.data.negative_selection == sbert::NegativeSelection::Random);
  CHECK(o.model.loss == sbert::LossType::MNRL);
  CHECK(o.trainer.precision == sbert::Precision::BF16Mixed);
  CHECK_THROWS_WITH(sbert::TrainOptions::from_nemo_yaml_text(base + "  micro_batch_size: x\n",
                                                             "a.yaml"),
                    Contains("a.yaml:9: unknown key 'trainer.micro_batch_size' (did you mean "
                             "'model.micro_batch_size'?)"));
  CHECK_THROWS_WITH(
      sbert::TrainOptions::from_nemo_yaml_text(base, "a.yaml", {"model.optim.lrr=1"}),
      Contains("override 'model.optim.lrr=1'") &&
          Contains("did you mean 'model.optim.lr'?"));
  CHECK_THROWS_WITH(
      sbert::TrainOptions::from_nemo_yaml_text(base + "  max_steps: -5\n", "a.yaml"),
      Contains("a.yaml:9: key 'trainer.max_steps'"));
  // to_yaml reads back to the same options.
  const sbert::TrainOptions b = sbert::TrainOptions::from_nemo_yaml_text(o.to_yaml(), "b.yaml");
  CHECK(b.model.loss == o.model.loss);
  CHECK(b.model.data.negative_selection == o.model.data.negative_selection);
  CHECK(b.trainer.precision == o.trainer.precision);
  CHECK_THAT(sbert::TrainOptions::keys_help(),
             Contains("model.optim.lr (a number, default 0.0002)"));
}

TEST_CASE("TrainData::from_examples keeps the examples and refuses empty texts", "[api]") {
  const sbert::TrainData d =
      sbert::TrainData::from_examples({{"q1", "p1", {"n1", "n2"}}, {"q2", "p2", {}}});
  REQUIRE(d.size() == 2);
  CHECK(d.example(0).neg_docs.size() == 2);
  CHECK(d.example(1).pos_doc == "p2");
  CHECK_THROWS_WITH(sbert::TrainData::from_examples({{"q", "", {}}}),
                    Contains("example 0: pos_doc is empty"));
  CHECK_THROWS_WITH(sbert::TrainData::from_examples({}), Contains("no training examples"));
}
