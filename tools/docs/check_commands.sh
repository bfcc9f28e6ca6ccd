#!/usr/bin/env bash
# Runs every shell command the documentation shows, so the docs cannot drift from the tools.
#   tools/docs/check_commands.sh [BUILD_DIR]        (default build/; scripts/test.sh runs it)
#
# What is run: each ```sh or ```bash fence of README.md and docs/*.md, as one bash script
# (set -euo pipefail), with a 90 s limit, in a scratch folder that links every tracked top-level
# entry of the repository (so `conf`, `data`, `tests/...` resolve), with BUILD_DIR/bin first on PATH.
# A non-zero exit fails the check, naming the file and line of the fence.
#
# Not run:
#   - a fence preceded by the line `<!-- not-run: REASON -->` (the reason is required);
#   - fences of other languages (cpp, json, yaml, text: output, trees, messages).
# A fence without a language is an error: say whether it is a command (sh) or not (text).
#
# The scratch folder stands the bundled small data in for the big inputs the docs name, so the
# commands run in seconds (the same mapping for every fence, and for config files, whose paths
# resolve relative to conf/ and so land in the scratch folder too):
#   models/all-MiniLM-L6-v2  -> tests/fixtures/tiny-bert   (the same layout; 2 layers of width 32)
#   data/scifact/beir        -> data/quickstart/beir        (BEIR layout, train and test qrels)
#   data/scifact/mined/      -> an empty folder
#   build/                   -> BUILD_DIR
#   train.jsonl, val.jsonl   -> copies of data/quickstart/train.jsonl (the user's own files)
#   runs/ft                  -> a finished one-epoch sbert-finetune run of tiny-bert
# and two lines are dropped from a fence: `scripts/fetch-model.sh ...` and
# `python3 tools/scifact/prepare.py ...`, which fetch and build the inputs replaced above
# (Python is never needed to test).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=$(cd "${1:-build}" && pwd)
export PATH="$BUILD/bin:$PATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
# The tracked top-level entries only: earlier runs' outputs (runs/, nemo_experiments/) stay out.
for e in $(git ls-files | cut -d/ -f1 | sort -u); do
  case "$e" in models | data | build) ;; *) ln -s "$ROOT/$e" "$SCRATCH/$e" ;; esac
done
mkdir -p "$SCRATCH/models" "$SCRATCH/data/scifact/mined" "$SCRATCH/runs"
ln -s "$ROOT/tests/fixtures/tiny-bert" "$SCRATCH/models/all-MiniLM-L6-v2"
ln -s "$ROOT/data/quickstart" "$SCRATCH/data/quickstart"
ln -s "$ROOT/data/quickstart/beir" "$SCRATCH/data/scifact/beir"
ln -s "$BUILD" "$SCRATCH/build"
cp data/quickstart/train.jsonl "$SCRATCH/train.jsonl"
cp data/quickstart/train.jsonl "$SCRATCH/val.jsonl"
(cd "$SCRATCH" && sbert-finetune --config-path conf --config-name sbert_finetune \
   exp_manager.explicit_log_dir=runs/ft trainer.max_epochs=1 trainer.threads=2 \
   > "$SCRATCH/setup.log" 2>&1) || { cat "$SCRATCH/setup.log"; exit 1; }

rewrite() {
  sed -e '/^scripts\/fetch-model.sh /d' -e '/^python3 tools\/scifact\/prepare.py/d'
}

ran=0 skipped=0 failed=0
for doc in README.md docs/*.md; do
  # Fences as "START_LINE LANG NOT_RUN_REASON" followed by their body, NUL-separated.
  while IFS= read -r -d '' block; do
    header=${block%%$'\n'*}
    body=${block#*$'\n'}
    read -r line lang reason <<< "$header"
    if [ "$lang" = "-" ]; then
      echo "$doc:$line: a fence without a language: mark it sh (a command) or text" >&2
      failed=$((failed + 1))
      continue
    fi
    case "$lang" in sh | bash) ;; *) continue ;; esac
    if [ -n "$reason" ]; then
      skipped=$((skipped + 1))
      continue
    fi
    script="$SCRATCH/block.sh"
    { echo "set -euo pipefail"; printf '%s\n' "$body" | rewrite; } > "$script"
    ran=$((ran + 1))
    if ! (cd "$SCRATCH" && timeout 90 bash "$script" > "$SCRATCH/out.log" 2>&1); then
      failed=$((failed + 1))
      echo "FAILED: $doc:$line, run as:" >&2
      sed 's/^/    /' "$script" >&2
      echo "  output (last 20 lines):" >&2
      tail -20 "$SCRATCH/out.log" | sed 's/^/    /' >&2
    fi
  done < <(awk '
    /^[ \t]*```/ {
      if (!open) {
        lang = $0; sub(/^[ \t]*```/, "", lang); gsub(/[ \t]/, "", lang)
        if (lang == "") lang = "-"
        printf "%d %s %s\n", FNR, lang, reason; open = 1; reason = ""; next
      }
      printf "%c", 0; open = 0; next
    }
    open { print; next }
    /^<!-- not-run: .*-->/ { reason = $0; sub(/^<!-- not-run: /, "", reason); sub(/ *-->.*/, "", reason); next }
    /[^ \t]/ { reason = "" }
  ' "$doc")
done
echo "docs commands: $ran fences ran, $skipped marked not-run, $failed failed"
[ "$failed" -eq 0 ]
