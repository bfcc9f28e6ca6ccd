#!/usr/bin/env bash
# Reproduces the CoSENT rows of docs/results.md: all-MiniLM-L6-v2 fine-tuned on the STS Benchmark
# train split with CoSENT (conf/stsb.yaml), STSb test Spearman before and after, and (when a
# Python with sentence-transformers is given) the same run in sentence-transformers.
#   tools/stsb/run_cosent.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
PY=${1:-}
OUT=${OUT:-runs/stsb_result}
mkdir -p "$OUT"
"$BIN/sbert-eval" --model models/all-MiniLM-L6-v2 --sts data/stsb/test.tsv --output "$OUT/base.json"
"$BIN/sbert-finetune" --config-path conf --config-name stsb "exp_manager.explicit_log_dir=$OUT/libsbert"
CK=$(ls -d "$OUT"/libsbert/checkpoints/step-* | tail -1)
"$BIN/sbert-eval" --model "$CK" --sts data/stsb/test.tsv --output "$OUT/libsbert.json"
if [ -n "$PY" ]; then
  HF_HUB_OFFLINE=1 "$PY" tools/reference/st_finetune_stsb.py --model models/all-MiniLM-L6-v2 \
    --train data/stsb/train.tsv --test data/stsb/test.tsv --output "$OUT/st" --loss cosent \
    --batch-size 16 --epochs 1 --lr 2e-5 --warmup-steps 36 --threads 1
fi
