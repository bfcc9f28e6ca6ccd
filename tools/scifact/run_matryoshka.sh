#!/usr/bin/env bash
# Reproduces the Matryoshka table of docs/results.md: all-MiniLM-L6-v2 fine-tuned on the SciFact
# (claim, abstract) train pairs with MNRL, once plain and once inside Matryoshka (384/256/128/64),
# then the base model and both checkpoints evaluated on the full test split at each dimension.
#   tools/scifact/run_matryoshka.sh            (about 25 minutes on 2 idle cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
OUT=${OUT:-runs/scifact_matryoshka_result}
mkdir -p "$OUT"
python3 tools/scifact/prepare.py
python3 tools/scifact/make_pairs.py
"$BIN/sbert-finetune" --config-path conf --config-name scifact_matryoshka \
  "exp_manager.explicit_log_dir=$OUT/matryoshka"
"$BIN/sbert-finetune" --config-path conf --config-name scifact_matryoshka model.loss=mnrl \
  "exp_manager.explicit_log_dir=$OUT/mnrl"
for m in models/all-MiniLM-L6-v2 "$OUT/mnrl" "$OUT/matryoshka"; do
  "$BIN/sbert-eval" --model "$m" --beir data/scifact/beir --split test \
    --matryoshka 384,256,128,64 --output "$OUT/$(basename "$m").json"
done
