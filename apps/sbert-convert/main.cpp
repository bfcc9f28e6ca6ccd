// sbert-convert: Hugging Face / sentence-transformers folder <-> libsbert checkpoint.
//   sbert-convert --input HF_DIR --output CKPT [--precision 32|bf16] [--quantize int8]
//   sbert-convert --to-hf --input CKPT --output DIR [--query-prompt "query: " ...]
//   sbert-convert --verify RUN_OR_CHECKPOINT
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.h"
#include "model_arg.h"
#include "progress_reporter.h"
#include "sbert/convert.h"
#include "sbert/error.h"

namespace {

namespace fs = std::filesystem;

// --verify: one line per checkpoint on stdout; an error (exit 1) when any is damaged.
int verify(const fs::path& arg) {
  fs::path root = arg;
  if (fs::is_directory(root / "checkpoints")) root /= "checkpoints";
  std::vector<fs::path> dirs;
  if (fs::is_regular_file(root / "trainer_state.json") || fs::exists(root / "checksums.xxh128") ||
      !fs::is_directory(root)) {
    dirs.push_back(arg);
  } else {
    for (const auto& e : fs::directory_iterator(root)) {
      const std::string name = e.path().filename().string();
      if (e.is_directory() && name.rfind("step-", 0) == 0 &&
          name.find(".tmp.") == std::string::npos && name.find(".old.") == std::string::npos) {
        dirs.push_back(e.path());
      }
    }
    std::sort(dirs.begin(), dirs.end());
    if (dirs.empty())
      throw sbert::Error("[verify] " + arg.string() + ": no checkpoint (step-*) in it");
  }
  size_t damaged = 0;
  std::string first;
  for (const fs::path& d : dirs) {
    const std::vector<std::string> problems = sbert::verify_checkpoint(d);
    if (problems.empty()) {
      std::printf("%s: intact\n", d.c_str());
      continue;
    }
    ++damaged;
    for (const std::string& p : problems) std::printf("%s: DAMAGED: %s\n", d.c_str(), p.c_str());
    if (first.empty()) first = d.string() + ": " + problems.front();
  }
  std::fflush(stdout);
  if (damaged > 0) {
    throw sbert::Error("[verify] " + std::to_string(damaged) + " of " +
                       std::to_string(dirs.size()) + " checkpoints damaged; first: " + first);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-convert", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-convert",
        "Converts a Hugging Face / sentence-transformers model folder into a libsbert checkpoint\n"
        "(the same folder plus libsbert.json: config as read, prompts, precision, sha256), or\n"
        "with --to-hf a libsbert or sbert-finetune checkpoint back into a folder that\n"
        "transformers and sentence-transformers load as is. fp32 round trips are bitwise.\n"
        "The output is written to a temporary folder and renamed into place when complete.",
        {{"--input",
          "model folder, libsbert checkpoint, sbert-finetune checkpoint, a run's log folder or\n"
          "      its checkpoints/latest or checkpoints/best",
          true, false, ""},
         {"--output", "folder to write (replaced if it is a model folder)", true, false, ""},
         {"--verify",
          "check sbert-finetune checkpoints against their checksums.xxh128 and exit (non-zero\n"
          "      when one is damaged): a checkpoint folder, or a run's log folder or its\n"
          "      checkpoints folder (every step-* in it)",
          true, false, ""},
         {"--to-hf", "write a Hugging Face / sentence-transformers folder (no libsbert.json)",
          false, false, ""},
         {"--precision", "weights of the output: 32 or bf16 (round to nearest even)", true, false,
          "32"},
         {"--quantize",
          "int8: the encoder's linear weights per-output-channel int8 (about a quarter of their\n"
          "      fp32 size), for int8 inference (sbert-embed/-eval/-mine load it int8); not with\n"
          "      --to-hf, and sbert-finetune refuses such a model",
          true, false, ""},
         {"--query-prompt", "prompt named \"query\" (config_sentence_transformers.json)", true,
          false, ""},
         {"--passage-prompt", "prompt named \"passage\"", true, false, ""}});
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    if (args.has("--verify")) return verify(args.get("--verify"));
    for (const char* required : {"--input", "--output"}) {
      if (!args.has(required)) {
        throw sbert::cli::UsageError{std::string("missing required option ") + required +
                                     " (or --verify DIR)"};
      }
    }
    sbert::ConvertOptions opt;
    try {
      opt.precision = sbert::parse_precision(args.get("--precision"));
    } catch (const sbert::Error&) {
      throw sbert::cli::UsageError{"unknown --precision '" + args.get("--precision") +
                                   "' (expected 32 or bf16)"};
    }
    if (args.has("--quantize")) {
      if (args.get("--quantize") != "int8") {
        throw sbert::cli::UsageError{"unknown --quantize '" + args.get("--quantize") +
                                     "' (expected int8)"};
      }
      if (opt.precision != sbert::DType::F32) {
        throw sbert::cli::UsageError{
            "--quantize int8 keeps the other weights fp32: drop --precision " +
            args.get("--precision")};
      }
      if (args.flag("--to-hf")) {
        throw sbert::cli::UsageError{
            "--quantize int8 writes a libsbert checkpoint; Hugging Face folders are fp32 or bf16"};
      }
      opt.precision = sbert::DType::I8;
    }
    if (args.has("--query-prompt")) opt.query_prompt = args.get("--query-prompt");
    if (args.has("--passage-prompt")) opt.passage_prompt = args.get("--passage-prompt");
    const bool to_hf = args.flag("--to-hf");
    std::string input = args.get("--input");
    if (std::filesystem::exists(input))
      input = sbert::cli::resolve_model_arg("sbert-convert", input);
    sbert::cli::ProgressReporter progress("sbert-convert");
    opt.progress = progress.callback();
    const sbert::ConvertReport r =
        to_hf ? sbert::export_to_hf(input, args.get("--output"), opt)
              : sbert::convert_to_checkpoint(input, args.get("--output"), opt);
    progress.end_line();
    std::string prompts;
    for (const auto& [k, v] : r.prompts) {
      prompts += prompts.empty() ? "" : ", ";
      prompts += k;
      prompts += "=\"";
      prompts += v;
      prompts += "\"";
    }
    std::fprintf(stderr,
                 "sbert-convert: %s -> %s (%s, %s, %lld tensors, %lld parameters, %s pooling%s, "
                 "max_seq_length %d, prompts {%s}, model.safetensors sha256 %s)\n",
                 r.input.c_str(), r.output.c_str(),
                 to_hf ? "Hugging Face / sentence-transformers" : "libsbert checkpoint",
                 sbert::precision_name(r.precision), static_cast<long long>(r.tensors),
                 static_cast<long long>(r.parameters), sbert::to_string(r.config.pooling),
                 r.config.normalize ? " + normalize" : "", r.config.max_seq_length, prompts.c_str(),
                 r.sha256.c_str());
    return 0;
  });
}
