// sbert-plot: a training run's metrics.jsonl as one self-contained SVG.
//   sbert-plot LOGDIR [--output FILE.svg]
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "sbert/train.h"

int main(int argc, char** argv) {
  return sbert::cli::run("sbert-plot", [&] {
    sbert::cli::Args args(
        argc, argv, "sbert-plot",
        "Draws LOGDIR/metrics.jsonl (written by sbert-finetune) as an SVG: training loss (raw\n"
        "and smoothed), learning rate and the validation metrics against the step.\n"
        "Usage: sbert-plot LOGDIR [--output FILE.svg]   (LOGDIR may also be the .jsonl file)",
        {{"--output", "SVG file to write (default: LOGDIR/metrics.svg)", true, false, ""}},
        /*allow_positional=*/true);
    if (args.help_requested()) {
      std::fputs(args.usage().c_str(), stdout);
      return 0;
    }
    if (args.positional().size() != 1) {
      throw sbert::cli::UsageError{args.positional().empty()
                                       ? "missing LOGDIR (see --help)"
                                       : "expected one LOGDIR, got several (see --help)"};
    }
    if (args.has("--output")) {
      const std::filesystem::path in = args.positional()[0];
      sbert::cli::require_not_an_input(
          "--output", args.get("--output"),
          {{"LOGDIR", in.string()}, {"LOGDIR", (in / "metrics.jsonl").string()}});
    }
    const std::filesystem::path out =
        sbert::write_training_plot(args.positional()[0], args.get("--output"));
    std::fprintf(stderr, "sbert-plot: wrote %s\n", out.c_str());
    return 0;
  });
}
