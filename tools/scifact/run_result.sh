#!/usr/bin/env bash
# Reproduces docs/results.md: SciFact BEIR files, hard negatives mined with the base model,
# libsbert fine-tuning (conf/scifact.yaml), evaluation on the full test split, and (when a Python
# with sentence-transformers is given) the sentence-transformers fine-tune on the same data.
#   tools/scifact/run_result.sh [PYTHON]      e.g. /opt/refvenv/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
PY=${1:-}
MODEL=models/all-MiniLM-L6-v2
OUT=${OUT:-runs/scifact_result}
mkdir -p "$OUT" data/scifact/mined

python3 tools/scifact/prepare.py
[ -f data/scifact/mined/train_all.jsonl ] ||
  "$BIN/sbert-mine" --model "$MODEL" --beir data/scifact/beir --split train \
    --output data/scifact/mined/train_all.jsonl --num-negatives 4 --range-min 10 --range-max 50 \
    --relative-margin 0.05 --sample random --seed 1 --write-ids
# Records whose every candidate fell to the false-negative filter carry no hard negative; both
# trainers get the same 779 records with at least one.
grep -v '"neg_doc": \[\]' data/scifact/mined/train_all.jsonl > data/scifact/mined/train.jsonl

"$BIN/sbert-eval" --model "$MODEL" --beir data/scifact/beir --split test --output "$OUT/base.json"
/usr/bin/time -v "$BIN/sbert-finetune" --config-path conf --config-name scifact \
  "exp_manager.explicit_log_dir=$OUT/libsbert" 2> >(tee "$OUT/libsbert.log" >&2)
CK=$(ls -d "$OUT"/libsbert/checkpoints/step-* | tail -1)
"$BIN/sbert-eval" --model "$CK" --beir data/scifact/beir --split test --output "$OUT/libsbert.json"

if [ -n "$PY" ]; then
  HF_HUB_OFFLINE=1 /usr/bin/time -v "$PY" tools/reference/st_finetune_scifact.py --model "$MODEL" \
    --train data/scifact/mined/train.jsonl --beir data/scifact/beir --split test \
    --output "$OUT/st" --negatives 2 --batch-size 32 --epochs 1 --lr 5e-5 --warmup-steps 3 \
    --threads 2 --max-seq-length 256 --skip-base-eval 2> >(tee "$OUT/st.log" >&2)
fi
grep -h '"ndcg@10"' "$OUT"/*.json "$OUT"/st/results.json 2>/dev/null || true
