// sbert-mine: hard negatives for a BEIR split, written as NeMo training JSONL
// {"query", "pos_doc", "neg_doc": [...]}. See docs/mining.md.
#include <cstdio>
#include <optional>
#include <string>

#include "cli.h"
#include "progress_reporter.h"
#include "model_arg.h"
#include "sbert/mine.h"
#include "sbert/error.h"
#include "sbert/model.h"

namespace {

std::optional<float> opt_float(const sbert::cli::Args& args, const std::string& name) {
  if (!args.has(name)) return std::nullopt;
  return static_cast<float>(args.get_double(name));
}

}  // namespace

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-mine", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-mine",
        "Mines hard negatives for the queries of a BEIR split with an embedding model and\n"
        "writes NeMo training JSONL, one record per (query, positive) qrels row, in qrels\n"
        "order: {\"query\": text, \"pos_doc\": \"title text\", \"neg_doc\": [\"title text\", "
        "...]}.\n"
        "Candidates are ranked by cosine; positives, documents with a positive's text and\n"
        "candidates failing --margin/--relative-margin/--max-score/--min-score are dropped;\n"
        "ranks [--range-min, --range-max) of the rest are sampled (docs/mining.md).",
        {{"--model",
          "model folder (Hugging Face / sentence-transformers layout), a run's log folder or\n"
          "      its checkpoints/latest or checkpoints/best",
          true, true, ""},
         {"--beir", "BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv", true, true, ""},
         {"--split", "qrels split to mine for", true, false, "train"},
         {"--output", "output .jsonl (written atomically)", true, true, ""},
         {"--num-negatives", "negatives per query (K >= 0; 0: records without negatives, nothing embedded)", true, true, ""},
         {"--range-min", "first candidate rank to use (0-based, among surviving candidates)", true,
          false, "0"},
         {"--range-max", "candidate ranks used are [range-min, range-max)", true, false, "50"},
         {"--margin",
          "drop candidates with cosine > positive - M (sentence-transformers "
          "absolute_margin; positive = the query's lowest positive cosine)",
          true, false, ""},
         {"--relative-margin",
          "drop candidates with cosine > positive - |positive| * R "
          "(relative_margin)",
          true, false, ""},
         {"--max-score", "drop candidates with cosine > S", true, false, ""},
         {"--min-score", "drop candidates with cosine < S", true, false, ""},
         {"--sample", "top (the best K of the range) or random (K drawn from it)", true, false,
          "top"},
         {"--seed", "seed of --sample random", true, false, "0"},
         {"--query-prefix",
          "prepended to queries for embedding, not written (default: the model's prompt\n"
          "      \"query\")",
          true, false, ""},
         {"--passage-prefix",
          "prepended to documents for embedding, not written (default: the model's prompt\n"
          "      \"document\")",
          true, false, ""},
         sbert::cli::no_prompts_option(),
         {"--batch-size", "texts per forward pass", true, false, "32"},
         {"--max-seq-length", "truncate to this many tokens (0: the model's)", true, false, "0"},
         sbert::cli::device_option(),
         {"--threads", "CPU threads (0: all cores)", true, false, "0"},
         sbert::cli::quantize_option(),
         sbert::cli::matmul_precision_option(),
         {"--query-chunk", "queries per search task", true, false, "16"},
         {"--doc-chunk", "corpus rows scored per pass (scratch: threads x 4 x N floats)", true,
          false, "1024"},
         {"--write-ids", "also write query_id, pos_id, neg_ids, pos_score, neg_scores", false,
          false, ""}});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    using sbert::cli::UsageError;
    sbert::mine::MineOptions o;
    o.split = args.get("--split");
    auto& s = o.select;
    s.num_negatives = args.get_int("--num-negatives");
    s.range_min = args.get_int("--range-min");
    s.range_max = args.get_int("--range-max");
    s.absolute_margin = opt_float(args, "--margin");
    s.relative_margin = opt_float(args, "--relative-margin");
    s.max_score = opt_float(args, "--max-score");
    s.min_score = opt_float(args, "--min-score");
    const std::string sample = args.get("--sample");
    if (sample != "top" && sample != "random")
      throw UsageError{"--sample must be top or random, got '" + sample + "'"};
    s.sampling = sbert::mine::parse_sampling(sample);
    const int seed = args.get_int("--seed");
    if (seed < 0) throw UsageError{"--seed must be >= 0"};
    s.seed = static_cast<uint64_t>(seed);
    s.search.query_block = args.get_int("--query-chunk");
    s.search.doc_block = args.get_int("--doc-chunk");
    if (s.search.query_block < 1 || s.search.doc_block < 1)
      throw UsageError{"--query-chunk and --doc-chunk must be >= 1"};
    o.embed.batch_size = args.get_int("--batch-size");
    o.embed.max_seq_length = args.get_int("--max-seq-length");
    o.embed.device = sbert::parse_device(args.get("--device"));
    o.embed.threads = args.get_int("--threads");
    o.embed.quantize = sbert::cli::quantize_arg(args);
    o.embed.matmul_precision = sbert::cli::matmul_precision_arg("sbert-mine", args);
    o.write_ids = args.flag("--write-ids");
    if (o.embed.batch_size <= 0) throw UsageError{"--batch-size must be positive"};
    if (o.embed.max_seq_length < 0) throw UsageError{"--max-seq-length must be >= 0"};
    if (o.embed.threads < 0) throw UsageError{"--threads must be >= 0"};
    try {
      sbert::mine::validate(s);  // before loading anything
    } catch (const sbert::Error& e) {
      std::string m = e.what();
      if (m.rfind("[mine] ", 0) == 0) m.erase(0, 7);
      throw UsageError{m};
    }

    sbert::cli::require_extension("--output", args.get("--output"), ".jsonl",
                                  "NeMo training records, one JSON object per line");
    {
      const std::filesystem::path beir_dir = args.get("--beir");
      sbert::cli::require_not_an_input(
          "--output", args.get("--output"),
          {{"--beir", (beir_dir / "corpus.jsonl").string()},
           {"--beir", (beir_dir / "queries.jsonl").string()},
           {"--beir", (beir_dir / "qrels" / (args.get("--split") + ".tsv")).string()}});
    }
    const auto model = sbert::cli::load_model_arg("sbert-mine", args.get("--model"), o.embed.quantize);
    const auto prefixes = sbert::cli::task_prefixes("sbert-mine", model, args);
    o.query_prefix = prefixes.query;
    o.passage_prefix = prefixes.passage;
    sbert::cli::ProgressReporter progress("sbert-mine");
    o.progress = progress.callback();
    const auto st = sbert::mine::mine_beir(model, args.get("--beir"), args.get("--output"), o);
    progress.end_line();
    const auto& c = st.select;
    const double avg_neg = c.queries ? static_cast<double>(c.negatives) / c.queries : 0.0;
    std::fprintf(stderr,
                 "sbert-mine: %s: %lld records (one per positive pair) for %lld queries; "
                 "%.2f negatives per query (%lld queries with fewer than %lld); records with "
                 "fewer than %lld: %lld, with none: %lld\n",
                 args.get("--output").c_str(), static_cast<long long>(st.records),
                 static_cast<long long>(c.queries), avg_neg,
                 static_cast<long long>(c.short_queries), static_cast<long long>(s.num_negatives),
                 static_cast<long long>(s.num_negatives), static_cast<long long>(st.records_short),
                 static_cast<long long>(st.records_without_negatives));
    std::fprintf(
        stderr,
        "sbert-mine: %lld candidates retrieved; dropped: %lld positives, %lld same "
        "text/empty, false-negative filter %lld (margin %lld, relative margin %lld, "
        "max score %lld, min score %lld)\n",
        static_cast<long long>(c.candidates), static_cast<long long>(c.dropped_positive),
        static_cast<long long>(c.dropped_duplicate), static_cast<long long>(c.dropped_by_filters()),
        static_cast<long long>(c.dropped_absolute_margin),
        static_cast<long long>(c.dropped_relative_margin),
        static_cast<long long>(c.dropped_max_score), static_cast<long long>(c.dropped_min_score));
    std::fprintf(
        stderr,
        "sbert-mine: mean cosine: positive %.4f, negative %.4f; %lld corpus documents; "
        "qrels rows %lld (%lld not positive, %lld with an empty document, %lld replaced by a "
        "later row for the same pair: skipped); "
        "time: read %.1f s, embed %.1f s, search %.2f s, write %.2f s\n",
        c.positive_scores ? c.positive_score_sum / c.positive_scores : 0.0,
        c.negatives ? c.negative_score_sum / c.negatives : 0.0,
        static_cast<long long>(st.corpus_docs), static_cast<long long>(st.qrels_rows),
        static_cast<long long>(st.skipped_not_positive),
        static_cast<long long>(st.skipped_empty_positive),
        static_cast<long long>(st.skipped_superseded), st.seconds_read, st.seconds_embed,
        st.seconds_search, st.seconds_write);
    return 0;
  });
}
