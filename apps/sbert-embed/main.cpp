// sbert-embed: texts in (one per line, or JSONL with a "text" field), float32 .npy out.
#include <cstdio>

#include <string>

#include "cli.h"
#include "model_arg.h"
#include "progress_reporter.h"
#include "sbert/error.h"
#include "sbert/model.h"
#include "sbert/util.h"

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-embed", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-embed",
        "Embeds texts with a sentence-transformers / Hugging Face BERT model and writes a\n"
        "float32 .npy of shape (n, dim) in input order.",
        {{"--model",
          "model folder (Hugging Face / sentence-transformers layout), a run's log folder or\n"
          "      its checkpoints/latest or checkpoints/best",
          true, true, ""},
         {"--input", "text file (one text per line; \"-\": standard input) or .jsonl with a \"text\" field", true, true,
          ""},
         {"--output", "output .npy file (\"-\": standard output)", true, true, ""},
         {"--batch-size", "texts per forward pass", true, false, "32"},
         {"--max-seq-length", "truncate to this many tokens (0: the model's)", true, false, "0"},
         {"--prompt-name",
          "prepend the model's prompt of this name (config_sentence_transformers.json), e.g.\n"
          "      query or document, as sentence-transformers' encode(prompt_name=...)",
          true, false, ""},
         {"--prefix", "string prepended to every text, e.g. \"query: \"", true, false, ""},
         {"--truncate-dim",
          "keep the first N dimensions of every embedding (Matryoshka), as sentence-transformers'\n"
          "      truncate_dim: cut after the model's Normalize, so rows are not unit length\n"
          "      unless --normalize; 1..the model's dimension (default: all)",
          true, false, ""},
         {"--normalize",
          "L2-normalize every embedding after any truncation (sentence-transformers'\n"
          "      normalize_embeddings)",
          false, false, ""},
         sbert::cli::device_option(),
         {"--threads", "CPU threads (0: all cores)", true, false, "0"},
         sbert::cli::quantize_option(),
         sbert::cli::matmul_precision_option()});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    sbert::EmbedOptions opt;
    opt.batch_size = args.get_int("--batch-size");
    opt.max_seq_length = args.get_int("--max-seq-length");
    opt.device = sbert::parse_device(args.get("--device"));
    opt.threads = args.get_int("--threads");
    opt.quantize = sbert::cli::quantize_arg(args);
    opt.matmul_precision = sbert::cli::matmul_precision_arg("sbert-embed", args);
    if (opt.batch_size <= 0) throw sbert::cli::UsageError{"--batch-size must be positive"};
    if (opt.max_seq_length < 0) throw sbert::cli::UsageError{"--max-seq-length must be >= 0"};
    if (args.has("--truncate-dim")) {
      opt.truncate_dim = args.get_int("--truncate-dim");
      if (opt.truncate_dim < 1)
        throw sbert::cli::UsageError{"--truncate-dim must be at least 1, got " +
                                     args.get("--truncate-dim")};
    }
    opt.normalize = args.flag("--normalize");
    if (args.has("--prefix") && args.has("--prompt-name")) {
      throw sbert::cli::UsageError{"give --prompt-name or --prefix, not both"};
    }

    const std::string output = args.get("--output");
    sbert::cli::require_extension("--output", output, ".npy", "float32 NumPy, the only format written");
    sbert::cli::require_not_an_input("--output", output, {{"--input", args.get("--input")}});
    const auto texts = sbert::read_texts(args.get("--input"));
    if (texts.empty())
      throw sbert::Error("[embed] " + args.get("--input") + ": no texts (empty input); nothing written");
    const auto model = sbert::cli::load_model_arg("sbert-embed", args.get("--model"), opt.quantize);
    if (opt.truncate_dim > model.dim()) {
      throw sbert::cli::UsageError{"--truncate-dim " + std::to_string(opt.truncate_dim) +
                                   " is over the " + std::to_string(model.dim()) +
                                   " dimensions of the model's embeddings (" +
                                   model.path().string() + ")"};
    }
    // As sentence-transformers' encode(): the named prompt, else the model's
    // default_prompt_name, else nothing; --prefix is a literal string.
    std::string prompt_name = args.get("--prompt-name");
    if (!args.has("--prefix") && prompt_name.empty()) prompt_name = model.default_prompt_name();
    if (!prompt_name.empty()) {
      opt.prefix = model.prompt(prompt_name);
      std::fprintf(stderr, "sbert-embed: prompt '%s' of the model applied: \"%s\"%s\n",
                   prompt_name.c_str(), opt.prefix.c_str(),
                   args.has("--prompt-name") ? "" : " (its default_prompt_name)");
    } else {
      opt.prefix = args.get("--prefix");
    }
    sbert::cli::ProgressReporter progress("sbert-embed");
    opt.progress = progress.callback();
    const auto emb = model.embed(texts, opt);
    progress.end_line();
    sbert::write_npy_f32(args.get("--output"), emb.data.data(), emb.rows, emb.dim);
    std::fprintf(stderr, "sbert-embed: %lld texts -> %s (%lld x %lld)\n",
                 static_cast<long long>(emb.rows), args.get("--output").c_str(),
                 static_cast<long long>(emb.rows), static_cast<long long>(emb.dim));
    return 0;
  });
}
