// sbert-bench: training-step and embedding throughput of libsbert on a model shape with random
// weights, for fixed sequence lengths or SciFact's real length distribution. Prints one JSON
// object; --write-workload saves the exact sequences for benchmarks/pytorch/bench_torch.py.
#include <cstdio>

#include "cli.h"
#include "progress_reporter.h"
#include "measure.h"
#include "sbert/model.h"
#include "workload.h"

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-bench", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-bench",
        "Times libsbert training steps (forward, NeMo InfoNCE, backward, AdamW) or embedding\n"
        "passes on a model shape with random weights and prints one JSON object: step time,\n"
        "samples/s, real tokens/s, FLOP rate (6N + 12 L d s per token), MFU on GPU, peak RSS.\n"
        "Workloads: lenN (every sequence N real tokens) or scifact (claims as queries, abstracts\n"
        "as documents, tokenized, truncated to --max-seq-length).",
        {{"--shape", "minilm, bert-base or bert-large (= e5-large)", true, false, "minilm"},
         {"--mode", "train or embed", true, false, "train"},
         {"--workload", "lenN (e.g. len128) or scifact", true, false, "len128"},
         {"--batch", "train: queries per step (each with a positive and K negatives)", true, false,
          "8"},
         {"--negatives", "train: K hard negatives per query", true, false, "1"},
         {"--embed-batch", "embed: sequences per forward pass", true, false, "32"},
         {"--embed-seqs", "embed: sequences per timed pass", true, false, "128"},
         {"--steps", "timed steps (train) or passes (embed)", true, false, "3"},
         {"--warmup", "untimed steps first", true, false, "1"},
         {"--max-seq-length", "scifact: truncation length", true, false, "256"},
         {"--pad-to", "recorded for the PyTorch side: pad batches to this (0: longest)", true,
          false, "0"},
         {"--seed", "sequences and weights", true, false, "1"},
         {"--threads", "CPU threads (0: all cores)", true, false, "0"},
         {"--device", "cpu or cuda", true, false, "cpu"},
         {"--precision",
          "32, bf16-mixed or 16-mixed (cuda: GEMMs, and in bf16 attention, on\n"
          "      tensor cores, as trainer.precision)",
          true, false, "32"},
         {"--attention",
          "ours or cudnn (cuda + bf16-mixed: cuDNN's fused attention, as\n"
          "      model.attention_backend; sets the attention dropout to 0)",
          true, false, "ours"},
         {"--tokenizer", "model folder whose tokenizer reads SciFact", true, false,
          "models/all-MiniLM-L6-v2"},
         {"--scifact", "folder with queries.jsonl and beir/corpus.jsonl", true, false,
          "data/scifact"},
         {"--write-workload", "also write the workload JSON here (for bench_torch.py)", true, false,
          ""},
         {"--no-run", "only write the workload", false, false, ""}});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    sbert::bench::WorkloadOptions o;
    o.name = args.get("--workload");
    o.mode = args.get("--mode");
    o.batch = args.get_int("--batch");
    o.negatives = args.get_int("--negatives");
    o.embed_batch = args.get_int("--embed-batch");
    o.embed_seqs = args.get_int("--embed-seqs");
    o.steps = args.get_int("--steps");
    o.warmup = args.get_int("--warmup");
    o.max_seq_length = args.get_int("--max-seq-length");
    o.pad_to = args.get_int("--pad-to");
    o.seed = static_cast<uint64_t>(args.get_int("--seed"));
    o.scifact_dir = args.get("--scifact");
    const sbert::Device device = sbert::parse_device(args.get("--device"));
    const std::string name = args.get("--precision");
    if (name != "32" && name != "bf16-mixed" && name != "16-mixed") {
      throw sbert::cli::UsageError{"--precision must be 32, bf16-mixed or 16-mixed, got '" + name +
                                   "'"};
    }
    const sbert::Precision precision = name == "bf16-mixed" ? sbert::Precision::BF16Mixed
                                       : name == "16-mixed" ? sbert::Precision::FP16Mixed
                                                            : sbert::Precision::FP32;
    if (precision != sbert::Precision::FP32 && device != sbert::Device::CUDA) {
      throw sbert::cli::UsageError{"--precision " + name + " needs --device cuda"};
    }
    const std::string attention = args.get("--attention");
    if (attention != "ours" && attention != "cudnn") {
      throw sbert::cli::UsageError{"--attention must be ours or cudnn, got '" + attention + "'"};
    }
    const bool cudnn = attention == "cudnn";
    if (cudnn && precision != sbert::Precision::BF16Mixed) {
      throw sbert::cli::UsageError{"--attention cudnn needs --device cuda --precision bf16-mixed"};
    }
    const int threads = args.get_int("--threads");
    if (threads < 0) throw sbert::cli::UsageError{"--threads must be >= 0"};

    const auto tok = sbert::Tokenizer::load(args.get("--tokenizer"));
    const auto shape = sbert::bench::shape_by_name(args.get("--shape"));
    auto w = sbert::bench::make_workload(shape, o, tok);
    // cuDNN cannot draw our attention dropout masks: that dropout is off (for PyTorch too, through
    // the written workload).
    if (cudnn) w.shape.cfg.attention_dropout = 0.0f;
    if (args.has("--write-workload")) sbert::bench::write_workload(args.get("--write-workload"), w);
    if (args.flag("--no-run")) return 0;
    sbert::cli::ProgressReporter progress("sbert-bench");
    const auto r =
        sbert::bench::measure(w, tok, device, precision, cudnn, threads, progress.callback());
    progress.end_line();
    const std::string line = sbert::bench::to_json(w, device, precision, cudnn, r);
    std::fputs(line.c_str(), stdout);
    return 0;
  });
}
