// sbert-eval: retrieval metrics on a BEIR folder (NDCG@10, MRR@10, MAP@100, recall, ...) or STS
// correlations on a tab-separated pair file, as sentence-transformers' evaluators compute them.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unistd.h>
#include <string>

#include <vector>

#include "cli.h"
#include "model_arg.h"
#include "progress_reporter.h"
#include "sbert/error.h"
#include "sbert/eval.h"
#include "sbert/json.h"
#include "sbert/model.h"
#include "sbert/util.h"

namespace {

// The --output report is written with the library's JSON writer (two-space indent, as
// json.dump(indent=2); the by_dim rows one line each).
using sbert::JsonWriter;

// "384,256,128,64" -> {384, 256, 128, 64}; each at least 1, none twice.
std::vector<int> parse_dims(const std::string& text) {
  std::vector<int> dims;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int d = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), d);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size())
      throw sbert::cli::UsageError{
          "--matryoshka expects comma-separated integers such as "
          "384,256,128,64, got '" +
          text + "'"};
    if (d < 1)
      throw sbert::cli::UsageError{"--matryoshka dimensions must be at least 1, got " + item};
    for (const int e : dims) {
      if (e == d) throw sbert::cli::UsageError{"--matryoshka lists " + item + " twice"};
    }
    dims.push_back(d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

// Refuses a dimension over the model's before any embedding.
void check_dims(const std::vector<int>& dims, const sbert::Model& model) {
  for (const int d : dims) {
    if (d > model.dim())
      throw sbert::cli::UsageError{"--matryoshka dimension " + std::to_string(d) + " is over the " +
                                   std::to_string(model.dim()) +
                                   " dimensions of the model's embeddings (" +
                                   model.path().string() + ")"};
  }
}

// The metrics of several truncations side by side: one row per metric, one column per dim.
void print_by_dim(const std::vector<int>& dims, const std::vector<std::string>& names,
                  const std::vector<std::vector<double>>& values) {
  std::printf("  %-14s", "metric \\ dim");
  for (const int d : dims) std::printf(" %8d", d);
  std::printf("\n");
  for (size_t r = 0; r < names.size(); ++r) {
    std::printf("  %-14s", names[r].c_str());
    for (size_t c = 0; c < dims.size(); ++c) std::printf(" %8.4f", values[c][r]);
    std::printf("\n");
  }
}

void write_dims(JsonWriter& j, const std::vector<int>& dims) {
  j.key("dims").begin_array(true);
  for (const int d : dims) j.value(d);
  j.end_array();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-eval", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-eval",
        "Evaluates an embedding model as sentence-transformers' evaluators do: retrieval on a\n"
        "BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv; cosine similarity, exact\n"
        "search: NDCG@10, MRR@10, MAP@100, recall, precision, accuracy) or STS correlations on a\n"
        "tab-separated file (sentence1, sentence2, score; or the STS benchmark's columns).\n"
        "Prints a table; --output writes the numbers as JSON.",
        {{"--model",
          "model folder (Hugging Face / sentence-transformers layout), a run's log folder or\n"
          "      its checkpoints/latest or checkpoints/best",
          true, true, ""},
         {"--beir", "BEIR data set folder (retrieval)", true, false, ""},
         {"--split", "qrels split: qrels/<split>.tsv", true, false, "test"},
         {"--sts", "STS pair file (similarity correlation)", true, false, ""},
         {"--output", "write the metrics to this JSON file", true, false, ""},
         {"--batch-size", "texts per forward pass", true, false, "32"},
         {"--max-seq-length", "truncate to this many tokens (0: the model's)", true, false, "0"},
         {"--query-prefix",
          "prepended to every query, e.g. \"query: \" (default: the model's prompt \"query\")",
          true, false, ""},
         {"--passage-prefix",
          "prepended to every document (default: the model's prompt \"document\")", true, false,
          ""},
         sbert::cli::no_prompts_option(),
         {"--corpus-chunk-size", "documents embedded at a time", true, false, "50000"},
         {"--matryoshka",
          "comma-separated embedding dimensions, e.g. 384,256,128,64: the metrics of each\n"
          "      truncation (the first N dimensions, cosine), as sentence-transformers'\n"
          "      evaluators with truncate_dim=N; embeds once",
          true, false, ""},
         {"--allow-unknown-ids",
          "accept qrels naming ids absent from corpus.jsonl / queries.jsonl, counted as\n"
          "      sentence-transformers does (relevant but never retrieved / ignored); default: an\n"
          "      error naming the qrels file and line",
          false, false, ""},
         sbert::cli::device_option(),
         {"--threads", "CPU threads (0: all cores)", true, false, "0"},
         sbert::cli::quantize_option(),
         sbert::cli::matmul_precision_option()});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    if (args.has("--output"))
      sbert::cli::require_extension("--output", args.get("--output"), ".json", "the metrics as JSON");
    const bool beir = args.has("--beir"), sts = args.has("--sts");
    if (beir == sts) throw sbert::cli::UsageError{"give exactly one of --beir DIR or --sts FILE"};
    // --output -: the JSON alone on stdout; the table goes to stderr meanwhile.
    int json_fd = -1;
    if (args.get("--output") == "-") {
      std::fflush(stdout);
      json_fd = ::dup(STDOUT_FILENO);
      if (json_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        throw sbert::Error("[eval] cannot redirect the table to stderr for --output -");
    }
    if (args.has("--output")) {
      const std::filesystem::path b = args.get("--beir");
      sbert::cli::require_not_an_input(
          "--output", args.get("--output"),
          sts ? std::vector<std::pair<std::string, std::string>>{{"--sts", args.get("--sts")}}
              : std::vector<std::pair<std::string, std::string>>{
                    {"--beir", (b / "corpus.jsonl").string()},
                    {"--beir", (b / "queries.jsonl").string()},
                    {"--beir", (b / "qrels" / (args.get("--split") + ".tsv")).string()}});
    }
    sbert::EmbedOptions opt;
    opt.batch_size = args.get_int("--batch-size");
    opt.max_seq_length = args.get_int("--max-seq-length");
    opt.device = sbert::parse_device(args.get("--device"));
    opt.threads = args.get_int("--threads");
    opt.quantize = sbert::cli::quantize_arg(args);
    opt.matmul_precision = sbert::cli::matmul_precision_arg("sbert-eval", args);
    if (opt.batch_size <= 0) throw sbert::cli::UsageError{"--batch-size must be positive"};
    if (opt.max_seq_length < 0) throw sbert::cli::UsageError{"--max-seq-length must be >= 0"};
    if (opt.threads < 0) throw sbert::cli::UsageError{"--threads must be >= 0"};
    const int chunk = args.get_int("--corpus-chunk-size");
    if (chunk <= 0) throw sbert::cli::UsageError{"--corpus-chunk-size must be positive"};
    const std::vector<int> dims =
        args.has("--matryoshka") ? parse_dims(args.get("--matryoshka")) : std::vector<int>{};
    if (sts && (args.has("--query-prefix") || args.has("--passage-prefix") || args.has("--split") ||
                args.flag("--allow-unknown-ids"))) {
      throw sbert::cli::UsageError{
          "--query-prefix, --passage-prefix, --split and --allow-unknown-ids apply to --beir "
          "only"};
    }

    const auto t0 = std::chrono::steady_clock::now();
    sbert::cli::ProgressReporter progress("sbert-eval");
    const std::string model_dir = args.get("--model");
    JsonWriter json(2);
    json.begin_object();
    if (beir) {
      const std::string split = args.get("--split");
      sbert::eval::BeirOptions bo;
      bo.allow_unknown_ids = args.flag("--allow-unknown-ids");
      const auto data = sbert::eval::read_beir(args.get("--beir"), split, bo);
      const auto model = sbert::cli::load_model_arg("sbert-eval", model_dir, opt.quantize);
      if (data.qrels_unknown_doc > 0) {
        std::fprintf(stderr,
                     "sbert-eval: warning: %lld relevant judgements name documents absent from "
                     "corpus.jsonl (counted as relevant, never retrieved)\n",
                     static_cast<long long>(data.qrels_unknown_doc));
      }
      if (data.qrels_unknown_query > 0) {
        std::fprintf(stderr,
                     "sbert-eval: warning: %lld judgements name queries absent from "
                     "queries.jsonl (ignored)\n",
                     static_cast<long long>(data.qrels_unknown_query));
      }
      sbert::eval::RetrievalOptions ro;
      ro.embed = opt;
      const auto prefixes = sbert::cli::task_prefixes("sbert-eval", model, args);
      ro.query_prefix = prefixes.query;
      ro.passage_prefix = prefixes.passage;
      ro.corpus_chunk_size = chunk;
      ro.progress = progress.callback();
      check_dims(dims, model);
      const std::vector<sbert::eval::RetrievalMetrics> ms =
          dims.empty() ? std::vector<sbert::eval::RetrievalMetrics>{sbert::eval::evaluate_retrieval(
                             model, data, ro)}
                       : sbert::eval::evaluate_retrieval_matryoshka(model, data, dims, ro);
      const auto& m = ms.front();
      progress.end_line();
      const double secs = seconds_since(t0);
      std::printf("sbert-eval: %s on %s (split %s)\n", model_dir.c_str(),
                  args.get("--beir").c_str(), split.c_str());
      std::printf(
          "  %lld queries evaluated, %lld skipped (no relevant document in the split), "
          "%lld documents\n",
          static_cast<long long>(m.queries), static_cast<long long>(data.queries_skipped),
          static_cast<long long>(m.corpus));
      if (dims.empty()) {
        std::printf("  %-14s %s\n", "metric", "value");
        for (const auto& v : m.values) {
          std::printf("  %-14s %.4f\n", v.name().c_str(), v.value);
          json.member(v.name(), v.value);
        }
      } else {
        std::printf("  Matryoshka: each column scores the first N of %d dimensions\n", model.dim());
        std::vector<std::string> names;
        for (const auto& v : m.values) names.push_back(v.name());
        std::vector<std::vector<double>> values;
        write_dims(json, dims);
        json.key("by_dim").begin_object();
        for (size_t i = 0; i < ms.size(); ++i) {
          values.emplace_back();
          json.key(std::to_string(dims[i])).begin_object(true);
          for (const auto& v : ms[i].values) {
            values.back().push_back(v.value);
            json.member(v.name(), v.value);
          }
          json.end_object();
        }
        json.end_object();
        print_by_dim(dims, names, values);
      }
      std::printf("  %.1f s (embedding and search %.1f s)\n", secs, m.seconds);
      json.member("queries", m.queries).member("queries_skipped", data.queries_skipped);
      json.member("corpus", m.corpus).member("qrels_unknown_doc", data.qrels_unknown_doc);
      json.member("qrels_unknown_query", data.qrels_unknown_query).member("split", split);
      json.member("data", args.get("--beir")).member("model", model_dir);
      json.member("query_prefix", ro.query_prefix).member("passage_prefix", ro.passage_prefix);
      json.member("seconds", secs);
    } else {
      const auto data = sbert::eval::read_sts(args.get("--sts"));
      const auto model = sbert::cli::load_model_arg("sbert-eval", model_dir, opt.quantize);
      opt.progress = progress.callback();
      check_dims(dims, model);
      const std::vector<sbert::eval::StsMetrics> ms =
          dims.empty()
              ? std::vector<sbert::eval::StsMetrics>{sbert::eval::evaluate_sts(model, data, opt)}
              : sbert::eval::evaluate_sts_matryoshka(model, data, dims, opt);
      const auto& m = ms.front();
      progress.end_line();
      const double secs = seconds_since(t0);
      std::printf("sbert-eval: %s on %s\n", model_dir.c_str(), args.get("--sts").c_str());
      std::printf("  %lld pairs, cosine similarity\n", static_cast<long long>(m.pairs));
      if (dims.empty()) {
        std::printf("  %-14s %s\n", "metric", "value");
        std::printf("  %-14s %.4f\n", "spearman", m.spearman);
        std::printf("  %-14s %.4f\n", "pearson", m.pearson);
        json.member("spearman", m.spearman).member("pearson", m.pearson);
      } else {
        std::printf("  Matryoshka: each column compares the first N of %d dimensions\n",
                    model.dim());
        std::vector<std::vector<double>> values;
        write_dims(json, dims);
        json.key("by_dim").begin_object();
        for (size_t i = 0; i < ms.size(); ++i) {
          values.push_back({ms[i].spearman, ms[i].pearson});
          json.key(std::to_string(dims[i])).begin_object(true);
          json.member("spearman", ms[i].spearman).member("pearson", ms[i].pearson).end_object();
        }
        json.end_object();
        print_by_dim(dims, {"spearman", "pearson"}, values);
      }
      std::printf("  %.1f s\n", secs);
      json.member("pairs", m.pairs).member("data", args.get("--sts"));
      json.member("model", model_dir).member("seconds", secs);
    }
    const std::string text = json.end_object().take() + "\n";
    if (json_fd >= 0) {
      std::fflush(stdout);
      ::dup2(json_fd, STDOUT_FILENO);
      ::close(json_fd);
    }
    if (args.has("--output")) sbert::write_file_atomic(args.get("--output"), text);
    return 0;
  });
}
