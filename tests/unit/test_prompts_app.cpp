// The prefixes a model is fine-tuned with travel with it: sbert-finetune writes them as
// sentence-transformers prompts in every checkpoint, sbert-eval / sbert-mine apply them to
// queries and documents by default, sbert-embed by --prompt-name; and every tool takes the run's
// log folder and its checkpoints/latest and checkpoints/best as --model.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include "support/fixtures.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using test::put;
using test::slurp;

namespace {

std::map<std::string, double> metrics(const fs::path& json) {
  simdjson::dom::parser parser;
  const simdjson::dom::object o = parser.load(json.string()).get_object();
  std::map<std::string, double> out;
  for (const char* k : {"ndcg@10", "mrr@10", "map@100", "recall@1", "recall@10", "recall@100"})
    out[k] = double(o[k]);
  return out;
}

std::string json_str(const fs::path& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(!parser.load(json.string()).get(doc));
  std::string_view v;
  REQUIRE(!doc[key].get(v));
  return std::string(v);
}

// val_ndcg@10 logged for each validation step.
std::map<int64_t, double> logged_ndcg(const fs::path& log_dir) {
  std::map<int64_t, double> out;
  std::istringstream in(slurp(log_dir / "metrics.jsonl"));
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"validation\": true") == std::string::npos) continue;
    const simdjson::dom::element e = parser.parse(line);
    out[int64_t(e["step"])] = double(e["val_ndcg@10"]);
  }
  return out;
}

}  // namespace

TEST_CASE("prompts travel with a fine-tuned model, which tools find by run folder, latest, best",
          "[prompts][model-path][apps]") {
  test::TempDir tmp;
  const fs::path data = test::write_train_records(tmp.path());
  const fs::path beir = test::write_beir_subset(tmp / "beir", 20);
  // Defaults: add_prefix true, "query: " / "passage: ". Validation (with those prefixes) at
  // steps 4 and 8 monitors val_ndcg@10.
  put(tmp / "ft.yaml", "restore_from_path: " + test::fixture_dir("tiny-bert").string() +
                           "\ntrainer:\n  max_steps: 8\n  threads: 2\n  val_check_interval: 4\n"
                           "  num_sanity_val_steps: 0\n"
                           "exp_manager:\n  checkpoint_callback_params:\n"
                           "    monitor: val_ndcg@10\n    mode: max\n"
                           "model:\n  global_batch_size: 8\n  micro_batch_size: 8\n"
                           "  encoder_seq_length: 64\n  data:\n    data_train: " +
                           data.string() + "\n    hard_negatives_to_train: 1\n" +
                           "    validation_beir:\n      path: " + beir.string() +
                           "\n  optim:\n    lr: 5e-3\n");
  const fs::path run = tmp / "run";
  const auto ft = test::run_app("sbert-finetune",
                                {"--config-path", tmp.path().string(), "--config-name", "ft.yaml",
                                 "exp_manager.explicit_log_dir=" + run.string()});
  INFO(ft.stderr_text);
  REQUIRE(ft.exit_code == 0);
  const fs::path ckpts = run / "checkpoints";
  REQUIRE(fs::exists(ckpts / "latest"));
  REQUIRE(fs::exists(ckpts / "best"));
  CHECK(slurp(ckpts / "latest") == "step-00000008\n");
  const auto ndcg = logged_ndcg(run);
  REQUIRE(ndcg.size() == 2);
  const int64_t best_step = ndcg.at(8) > ndcg.at(4) ? 8 : 4;
  const std::string best_name = best_step == 8 ? "step-00000008" : "step-00000004";
  CHECK(slurp(ckpts / "best") == best_name + "\n");
  // The end-of-run message names both.
  CHECK_THAT(ft.stderr_text, Contains("latest checkpoint (model and training state): " +
                                      (ckpts / "step-00000008").string()));
  CHECK_THAT(ft.stderr_text,
             Contains("best checkpoint by val_ndcg@10: " + (ckpts / best_name).string()));

  // Every checkpoint holds the training prefixes as sentence-transformers prompts.
  for (const auto& e : fs::directory_iterator(ckpts)) {
    if (!e.is_directory()) continue;
    simdjson::dom::parser parser;
    const simdjson::dom::element st =
        parser.load((e.path() / "config_sentence_transformers.json").string());
    CHECK(std::string_view(st["prompts"]["query"]) == "query: ");
    CHECK(std::string_view(st["prompts"]["document"]) == "passage: ");
    CHECK(st["default_prompt_name"].is_null());
  }

  // sbert-eval on the run folder, no flags: its best checkpoint, with the training prefixes,
  // gives what the trainer's validation logged for that step.
  const std::vector<std::string> common = {"--beir", beir.string(), "--max-seq-length", "64"};
  auto eval = [&](const std::string& model, const std::string& out,
                  std::vector<std::string> extra) {
    std::vector<std::string> a = {"--model", model, "--output", (tmp / out).string()};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return test::run_app("sbert-eval", a);
  };
  const auto plain = eval(run.string(), "plain.json", {});
  INFO(plain.stderr_text);
  REQUIRE(plain.exit_code == 0);
  CHECK_THAT(plain.stderr_text, Contains("sbert-eval: model: " + run.string() +
                                         ": its best checkpoint by val_ndcg@10"));
  CHECK_THAT(plain.stderr_text,
             Contains("sbert-eval: prompts of the model applied: queries get \"query: \" "
                      "(prompt 'query'), documents get \"passage: \" (prompt 'document')"));
  CHECK(json_str(tmp / "plain.json", "query_prefix") == "query: ");
  CHECK(json_str(tmp / "plain.json", "passage_prefix") == "passage: ");
  CHECK(metrics(tmp / "plain.json").at("ndcg@10") == Approx(ndcg.at(best_step)).margin(1e-6));

  const auto explicit_ = eval((ckpts / "best").string(), "explicit.json",
                              {"--query-prefix", "query: ", "--passage-prefix", "passage: "});
  REQUIRE(explicit_.exit_code == 0);
  CHECK(metrics(tmp / "explicit.json") == metrics(tmp / "plain.json"));

  const auto none = eval(run.string(), "none.json", {"--no-prompts"});
  REQUIRE(none.exit_code == 0);
  CHECK_THAT(none.stderr_text,
             Contains("prompts: the model's (query, document) not applied (--no-prompts)"));
  CHECK(json_str(tmp / "none.json", "query_prefix").empty());
  CHECK(metrics(tmp / "none.json") != metrics(tmp / "plain.json"));
  // An explicit flag wins over the model's prompt, side by side.
  const auto mixed = eval(run.string(), "mixed.json", {"--query-prefix", ""});
  REQUIRE(mixed.exit_code == 0);
  CHECK(json_str(tmp / "mixed.json", "query_prefix").empty());
  CHECK(json_str(tmp / "mixed.json", "passage_prefix") == "passage: ");

  // sbert-embed: the run folder, checkpoints/latest and checkpoints/best.
  put(tmp / "texts.txt", "a query about cells\nanother text\n");
  auto embed = [&](const std::string& model, const std::string& out,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"--model", model, "--input", (tmp / "texts.txt").string(),
                                  "--output", (tmp / out).string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return test::run_app("sbert-embed", a);
  };
  REQUIRE(embed((ckpts / "step-00000008").string(), "s8.npy").exit_code == 0);
  REQUIRE(embed((ckpts / best_name).string(), "sbest.npy").exit_code == 0);
  const auto latest = embed((ckpts / "latest").string(), "latest.npy");
  INFO(latest.stderr_text);
  REQUIRE(latest.exit_code == 0);
  CHECK_THAT(latest.stderr_text, Contains("latest -> " + (ckpts / "step-00000008").string()));
  CHECK(slurp(tmp / "latest.npy") == slurp(tmp / "s8.npy"));
  REQUIRE(embed((ckpts / "best").string(), "best.npy").exit_code == 0);
  CHECK(slurp(tmp / "best.npy") == slurp(tmp / "sbest.npy"));
  REQUIRE(embed(run.string(), "run.npy").exit_code == 0);
  CHECK(slurp(tmp / "run.npy") == slurp(tmp / "sbest.npy"));
  // --prompt-name query is --prefix "query: "; both at once is a usage error.
  const auto named = embed(run.string(), "q1.npy", {"--prompt-name", "query"});
  REQUIRE(named.exit_code == 0);
  CHECK_THAT(named.stderr_text, Contains("prompt 'query' of the model applied: \"query: \""));
  REQUIRE(embed(run.string(), "q2.npy", {"--prefix", "query: "}).exit_code == 0);
  CHECK(slurp(tmp / "q1.npy") == slurp(tmp / "q2.npy"));
  CHECK(slurp(tmp / "q1.npy") != slurp(tmp / "run.npy"));
  const auto both = embed(run.string(), "x.npy", {"--prompt-name", "query", "--prefix", "q"});
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.stderr_text, Contains("give --prompt-name or --prefix, not both"));
  const auto unknown = embed(run.string(), "x.npy", {"--prompt-name", "clustering"});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.stderr_text, Contains("no prompt named 'clustering' (the model has: "
                                           "document, query"));

  // sbert-mine applies the prompts too.
  const auto mine = test::run_app(
      "sbert-mine", {"--model", (ckpts / "latest").string(), "--beir", beir.string(), "--split",
                     "test", "--output", (tmp / "mined.jsonl").string(), "--num-negatives", "2",
                     "--max-seq-length", "64"});
  INFO(mine.stderr_text);
  REQUIRE(mine.exit_code == 0);
  CHECK_THAT(mine.stderr_text, Contains("sbert-mine: prompts of the model applied: queries get "
                                        "\"query: \""));

  // sbert-convert --input takes the names too, and the export carries the prompts.
  const auto conv = test::run_app("sbert-convert", {"--to-hf", "--input", (ckpts / "best").string(),
                                                    "--output", (tmp / "hf").string()});
  INFO(conv.stderr_text);
  REQUIRE(conv.exit_code == 0);
  CHECK_THAT(conv.stderr_text, Contains("best -> " + (ckpts / best_name).string()));
  CHECK_THAT(conv.stderr_text, Contains("prompts {document=\"passage: \", query=\"query: \"}"));
  REQUIRE(embed((tmp / "hf").string(), "hf.npy").exit_code == 0);
  CHECK(slurp(tmp / "hf.npy") == slurp(tmp / "sbest.npy"));

  // restore_from_path takes the run folder too: a second run starts from its best checkpoint.
  const auto again = test::run_app(
      "sbert-finetune", {"--config-path", tmp.path().string(), "--config-name", "ft.yaml",
                         "restore_from_path=" + run.string(), "trainer.max_steps=1",
                         "exp_manager.explicit_log_dir=" + (tmp / "run2").string()});
  INFO(again.stderr_text);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.stderr_text, Contains("restore_from_path " + run.string() +
                                         ": its best checkpoint"));
}
