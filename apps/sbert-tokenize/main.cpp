// sbert-tokenize: texts in, one {"input_ids": [...]} JSON line per text out, in input order.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"
#include "model_arg.h"
#include "sbert/util.h"
#include "sbert/util.h"
#include "sbert/tokenizer.h"

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-tokenize", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-tokenize",
        "Tokenizes texts with a model's tokenizer ([CLS] ... [SEP] or <s> ... </s>, as Hugging "
        "Face does).",
        {{"--model",
          "model folder holding tokenizer.json, vocab.txt, sentencepiece.bpe.model or "
          "vocab.json + merges.txt",
          true, true, ""},
         {"--input", "text file (one text per line; \"-\": standard input) or .jsonl with a \"text\" field", true, true,
          ""},
         {"--output", "output .jsonl (\"-\": standard output)", true, true, ""},
         {"--max-seq-length", "truncate to this many tokens (0: no truncation)", true, false, "0"},
         {"--threads", "threads (0: all cores)", true, false, "0"}});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    const int max_len = args.get_int("--max-seq-length");
    if (max_len < 0) throw sbert::cli::UsageError{"--max-seq-length must be >= 0"};
    sbert::cli::require_not_an_input("--output", args.get("--output"), {{"--input", args.get("--input")}});
    const auto texts = sbert::read_texts(args.get("--input"));
    // A folder with a tokenizer needs no weights; a run's folder or checkpoints/latest does.
    std::string dir = args.get("--model");
    const std::filesystem::path d(dir);
    if (!std::filesystem::exists(d / "tokenizer.json") && !std::filesystem::exists(d / "vocab.txt") &&
        !std::filesystem::exists(d / "sentencepiece.bpe.model") &&
        !std::filesystem::exists(d / "vocab.json"))
      dir = sbert::cli::resolve_model_arg("sbert-tokenize", dir);
    const auto tok = sbert::Tokenizer::load(dir);
    const auto ids = tok.encode_batch(texts, max_len, args.get_int("--threads"));
    std::string text;  // the ids are in memory already; the JSONL is a fraction of their size
    for (const auto& seq : ids) {
      text += "{\"input_ids\": [";
      for (size_t i = 0; i < seq.size(); ++i) {
        if (i) text += ", ";
        text += std::to_string(seq[i]);
      }
      text += "]}\n";
    }
    sbert::write_file_atomic(args.get("--output"), text);
    return 0;
  });
}
