// The data keys: format, columns, train_ds / validation_ds lists, sampler; their errors name
// the key; the resolved YAML reads back; relative paths are relative to the config file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "sbert/error.h"
#include "support/fixtures.h"
#include "train/config.h"

using namespace sbert;
using Catch::Matchers::Contains;

namespace {

const std::string kHead = R"(
restore_from_path: models/x
trainer:
  max_steps: 100
model:
  micro_batch_size: 4
  global_batch_size: 16
  data:
)";

TrainConfig parse(const std::string& data, std::vector<std::string> overrides = {}) {
  return parse_train_config(kHead + data, "test.yaml", overrides);
}

std::string error_of(const std::string& data, std::vector<std::string> overrides = {}) {
  try {
    (void)parse(data, std::move(overrides));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("config: data format and column keys", "[config][data]") {
  const TrainConfig c = parse(R"(    data_train: pairs.txt
    format: csv
    columns:
      anchor: question
      positive: answer
      negatives: [wrong1, wrong2]
      score: label
)");
  CHECK(c.model.data.format == DataFormat::Csv);
  CHECK(c.model.data.columns.anchor == "question");
  CHECK(c.model.data.columns.positive == "answer");
  CHECK(c.model.data.columns.negatives == std::vector<std::string>{"wrong1", "wrong2"});
  CHECK(c.model.data.columns.score == "label");
  CHECK(c.model.data.columns.margins.empty());
  CHECK(parse("    data_train: a.jsonl\n").model.data.format == DataFormat::Auto);
  CHECK_THAT(error_of("    data_train: a.jsonl\n    format: xml\n"),
             Contains("key 'model.data.format' must be auto, json, jsonl, csv or tsv, got 'xml'"));
  CHECK_THAT(error_of("    data_train: a.jsonl\n    columns:\n      query: q\n"),
             Contains("unknown key 'model.data.columns.query'"));
}

TEST_CASE("config: several training datasets with weights and a sampler", "[config][data]") {
  const TrainConfig c = parse(R"(    sampler: round_robin
    train_ds:
      - name: nli
        paths: [nli.csv]
      - paths: stsb.tsv
        format: tsv
        columns: {anchor: s1, positive: s2, score: y}
    validation_ds:
      - file_names: [dev.tsv]
)");
  const auto& d = c.model.data;
  CHECK(d.sampler == DatasetSampler::RoundRobin);
  REQUIRE(d.train_ds.size() == 2);
  CHECK(d.train_ds[0].name == "nli");
  CHECK(d.train_ds[0].paths == std::vector<std::string>{"nli.csv"});
  CHECK(d.train_ds[1].format == DataFormat::Tsv);
  CHECK(d.train_ds[1].columns.score == "y");
  CHECK(d.train_ds[1].weight == 1.0);
  REQUIRE(d.validation_ds.size() == 1);
  CHECK(d.validation_ds[0].paths == std::vector<std::string>{"dev.tsv"});

  // The resolved YAML reads back to the same datasets.
  const TrainConfig b = parse_train_config(to_yaml(c), "resolved.yaml");
  CHECK(b.model.data.train_ds == d.train_ds);
  CHECK(b.model.data.validation_ds == d.validation_ds);
  CHECK(b.model.data.sampler == d.sampler);
  CHECK_THAT(c.describe(), Contains("model.data.train_ds: [{name: nli"));

  // From the command line too.
  const TrainConfig o = parse("", {"model.data.train_ds=[{paths: [a.csv], weight: 2}, {paths: [b.csv]}]"});
  REQUIRE(o.model.data.train_ds.size() == 2);
  CHECK(o.model.data.train_ds[0].weight == 2.0);
}

TEST_CASE("config: bad dataset lists name the key", "[config][data]") {
  CHECK_THAT(error_of("    train_ds: a.csv\n"),
             Contains("key 'model.data.train_ds' must be a list of datasets"));
  CHECK_THAT(error_of("    train_ds:\n      - paths: a.csv\n        wieght: 2\n"),
             Contains("unknown key 'model.data.train_ds[0].wieght' (a dataset has name, paths, "
                      "format, columns, weight)"));
  CHECK_THAT(error_of("    train_ds:\n      - paths: a.csv\n      - format: csv\n"),
             Contains("key 'model.data.train_ds[1].paths' must name the data files"));
  CHECK_THAT(error_of("    train_ds:\n      - paths: a.csv\n        weight: 0\n"),
             Contains("key 'model.data.train_ds[0].weight' must be positive, got 0"));
  CHECK_THAT(error_of("    train_ds:\n      - paths: a.csv\n        format: xls\n"),
             Contains("key 'model.data.train_ds[0].format' must be auto, json, jsonl, csv or tsv"));
  CHECK_THAT(error_of("    train_ds:\n      - paths: a.csv\n        columns: {anchr: q}\n"),
             Contains("unknown key 'model.data.train_ds[0].columns.anchr'"));
  CHECK_THAT(error_of("    data_train: x.jsonl\n    train_ds:\n      - paths: a.csv\n"),
             Contains("keys 'model.data.data_train' and 'model.data.train_ds' are both set"));
  CHECK_THAT(error_of("    sampler: round_robin\n    train_ds:\n      - paths: a.csv\n"
                      "        weight: 2\n      - paths: b.csv\n"),
             Contains("key 'model.data.sampler' is round_robin but a train_ds entry has weight 2"));
  CHECK_THAT(error_of("    sampler: random\n    data_train: x.jsonl\n"),
             Contains("key 'model.data.sampler' must be proportional or round_robin"));
  CHECK_THAT(error_of("    shuffle: true\n"),
             Contains("key 'model.data.data_train' (or model.data.train_ds) must name the "
                      "training data"));
}

TEST_CASE("config: train_ds paths are relative to the config file", "[config][data]") {
  sbert::test::TempDir dir;
  std::filesystem::create_directories(dir / "conf");
  std::ofstream(dir / "conf" / "c.yaml")
      << kHead << "    train_ds:\n      - paths: [../data/a.csv]\n";
  const TrainConfig c = load_train_config(dir / "conf", "c", {});
  CHECK(c.model.data.train_ds[0].paths[0] == (dir / "data" / "a.csv").string());
}
