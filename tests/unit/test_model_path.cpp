// What --model / restore_from_path may name (resolve_model_path): a model folder, a run's log
// folder (its best checkpoint, else its latest), checkpoints/latest and checkpoints/best; the
// trainer's checkpoints/best; and the sentence-transformers prompts a model carries.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include "api/model_impl.h"
#include "io/safetensors.h"
#include "sbert/model.h"
#include "support/fixtures.h"
#include "train/checkpoint.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using test::put;
using test::slurp;

namespace {

// A complete checkpoint folder as save_checkpoint leaves it (the model files are tiny-bert's).
fs::path fake_checkpoint(const fs::path& root, int64_t step, std::optional<double> monitor) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  const fs::path dir = root / name;
  fs::create_directories(dir);
  fs::copy(test::fixture_dir("tiny-bert"), dir, fs::copy_options::recursive);
  put(dir / "optimizer.safetensors", "x");
  TrainerState s;
  s.step = step;
  s.monitor = monitor;
  s.monitor_name = "val_ndcg@10";
  put(dir / "trainer_state.json", to_json(s));
  return dir;
}

}  // namespace

TEST_CASE("resolve_model_path: every form a --model argument may take", "[model][model-path]") {
  test::TempDir tmp;
  const fs::path tiny = test::fixture_dir("tiny-bert");
  std::string note = "stale";
  CHECK(resolve_model_path(tiny, &note) == tiny);
  CHECK(note.empty());

  const fs::path run = tmp / "r1", root = run / "checkpoints";
  const fs::path s2 = fake_checkpoint(root, 2, 0.7), s4 = fake_checkpoint(root, 4, 0.5);
  put(root / "latest", "step-00000004\n");

  SECTION("a log folder without best: its latest, said") {
    CHECK(resolve_model_path(run, &note) == s4);
    CHECK_THAT(note, Contains("latest checkpoint") && Contains(s4.string()));
    CHECK(resolve_model_path(root, &note) == s4);  // its checkpoints/ folder too
  }
  SECTION("a log folder with best: its best, said with the monitored value") {
    REQUIRE(update_best_checkpoint(root, "max") == s2);
    CHECK(slurp(root / "best") == "step-00000002\n");
    CHECK(resolve_model_path(run, &note) == s2);
    CHECK_THAT(note, Contains("best checkpoint by val_ndcg@10 = 0.7") && Contains(s2.string()));
    CHECK(resolve_model_path(root / "best", &note) == s2);
    CHECK(resolve_model_path(root / "latest", &note) == s4);
    CHECK_THAT(note, Contains("latest -> ") && Contains(s4.string()));
    // Model::load takes the same names.
    const Model m = Model::load(root / "latest");
    CHECK(m.path() == s4);
    CHECK(Model::load(run).path() == s2);
  }
  SECTION("errors name what was tried") {
    CHECK_THAT(test::error_of([&] { resolve_model_path(tmp / "nope"); }),
               Contains("nope: no such file or folder"));
    fs::create_directories(tmp / "empty");
    CHECK_THAT(test::error_of([&] { resolve_model_path(tmp / "empty"); }),
               Contains("empty: not a model folder (no model.safetensors) nor a run's log folder "
                        "(no checkpoints/ folder)"));
    fs::create_directories(tmp / "r2/checkpoints");
    CHECK_THAT(test::error_of([&] { resolve_model_path(tmp / "r2"); }),
               Contains("checkpoints holds no complete checkpoint"));
    CHECK_THAT(test::error_of([&] { resolve_model_path(s2 / "model.safetensors"); }),
               Contains("model.safetensors: a file, not a model folder"));
    put(root / "best", "step-00000099\n");
    CHECK_THAT(test::error_of([&] { resolve_model_path(root / "best"); }),
               Contains("names checkpoint 'step-00000099'"));
    CHECK_THAT(test::error_of([&] { Model::load(tmp / "empty"); }),
               Contains("[model] ") && Contains("no checkpoints/ folder"));
  }
}

TEST_CASE("update_best_checkpoint: min and max, the earliest of equals, none without values",
          "[model-path][checkpoint]") {
  test::TempDir tmp;
  const fs::path root = tmp / "checkpoints";
  fake_checkpoint(root, 1, std::nullopt);
  CHECK_FALSE(update_best_checkpoint(root, "min"));
  CHECK_FALSE(fs::exists(root / "best"));
  const fs::path a = fake_checkpoint(root, 2, 0.3), b = fake_checkpoint(root, 3, 0.1);
  const fs::path c = fake_checkpoint(root, 4, 0.3);
  CHECK(update_best_checkpoint(root, "min") == b);
  CHECK(find_best_checkpoint(root) == b);
  CHECK(update_best_checkpoint(root, "max") == a);  // a and c tie: the first stays best
  fs::remove_all(a);
  CHECK(update_best_checkpoint(root, "max") == c);
  fs::remove_all(b);
  fs::remove_all(c);
  CHECK_FALSE(update_best_checkpoint(root, "max"));  // a stale best is removed
  CHECK_FALSE(fs::exists(root / "best"));
}

TEST_CASE("Model prompts: read from and written to config_sentence_transformers.json",
          "[model][prompts]") {
  test::TempDir tmp;
  Model m = Model::load(test::fixture_dir("tiny-bert"));
  CHECK(m.prompts().empty());  // a model without prompts
  CHECK(m.query_prompt_name().empty());
  CHECK(m.document_prompt_name().empty());
  CHECK_THAT(test::error_of([&] { m.prompt("query"); }), Contains("the model has no prompts"));
  // Saving a model without prompts writes no config_sentence_transformers.json of its own.
  m.save(tmp / "plain");
  CHECK_FALSE(fs::exists(tmp / "plain/config_sentence_transformers.json"));

  m.impl().prompts = {{"query", "query: "}, {"document", "passage: "}};
  m.save(tmp / "with");
  simdjson::dom::parser parser;
  const simdjson::dom::element st =
      parser.load((tmp / "with/config_sentence_transformers.json").string());
  CHECK(std::string_view(st["prompts"]["query"]) == "query: ");
  CHECK(std::string_view(st["prompts"]["document"]) == "passage: ");
  CHECK(st["default_prompt_name"].is_null());
  CHECK(std::string_view(st["similarity_fn_name"]) == "cosine");
  // What sentence-transformers' save() writes for a libsbert fine-tune trained with these
  // prefixes (tools/reference/check_prompts.py --save-st-config): the same three fields.
  simdjson::dom::parser ref_parser;
  const simdjson::dom::element ref = ref_parser.load(
      (test::fixture_dir("st-prompts") / "config_sentence_transformers.json").string());
  for (const char* key : {"prompts", "default_prompt_name", "similarity_fn_name"}) {
    INFO(key);
    CHECK(simdjson::minify(st[key]) == simdjson::minify(ref[key]));
  }

  const Model back = Model::load(tmp / "with");
  CHECK(back.prompts() == m.impl().prompts);
  CHECK(back.default_prompt_name().empty());
  CHECK(back.query_prompt_name() == "query");
  CHECK(back.document_prompt_name() == "document");
  CHECK(back.prompt("document") == "passage: ");
  CHECK_THAT(test::error_of([&] { back.prompt("clustering"); }),
             Contains("no prompt named 'clustering' (the model has: document, query"));
  // The same text through the prompt and as a literal prefix: the same embedding.
  EmbedOptions lit;
  lit.prefix = "query: ";
  EmbedOptions named;
  named.prefix = back.prompt("query");
  CHECK(back.embed({"a text"}, lit).data == back.embed({"a text"}, named).data);

  // A model from elsewhere naming its document prompt "passage", with a default prompt:
  // found as sentence-transformers' encode_document finds it; the default kept.
  put(tmp / "with/config_sentence_transformers.json",
      "{\"prompts\": {\"query\": \"q: \", \"passage\": \"p: \"}, \"default_prompt_name\": "
      "\"query\", \"__version__\": {\"sentence_transformers\": \"5.0.0\"}}");
  const Model other = Model::load(tmp / "with");
  CHECK(other.document_prompt_name() == "passage");
  CHECK(other.prompt("document") == "p: ");
  CHECK(other.default_prompt_name() == "query");
  other.save(tmp / "other2");  // unchanged prompts: the file's bytes are kept
  CHECK(slurp(tmp / "other2/config_sentence_transformers.json") ==
        slurp(tmp / "with/config_sentence_transformers.json"));
}
