#!/usr/bin/env bash
# Corpus embedding on CPU, the comparison people make (docs/benchmarks.md, "Embedding a corpus"):
# sentence-transformers encode, ONNX Runtime fp32 and int8 (quantize_dynamic), libsbert fp32 and
# --quantize int8, on the first DOCS SciFact documents, THREADS threads, one run.
#
#   benchmarks/pytorch/embed_scifact.sh             # 1,500 documents, 2 threads, best of 2
#   DOCS=300 REPEAT=1 benchmarks/pytorch/embed_scifact.sh
#
# Environment: BUILD (default build), PYTHON (a venv with torch, transformers,
# sentence-transformers, onnxruntime, onnx, onnxscript; default /tmp/venv-st/bin/python),
# MODEL (default models/all-MiniLM-L6-v2), DOCS, THREADS, REPEAT, OUT (markdown, default
# benchmarks/results/embed-scifact-<date>.md; raw numbers beside it as .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/tmp/venv-st/bin/python}
MODEL=${MODEL:-models/all-MiniLM-L6-v2}
DOCS=${DOCS:-1500}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-2}
mkdir -p benchmarks/results
OUT=${OUT:-benchmarks/results/embed-scifact-$(date +%F).md}
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
TABLE=$(OMP_NUM_THREADS=$THREADS HF_HUB_OFFLINE=1 "$PYTHON" benchmarks/pytorch/embed_scifact.py \
  --model "$MODEL" --docs "$DOCS" --threads "$THREADS" --repeat "$REPEAT" --build "$BUILD" \
  --json "${OUT%.md}.json")
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores visible, ${THREADS} threads"
  echo "Date: $(date -u '+%F %H:%M UTC'); libsbert $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "Load average (1/5/15 min) at start: $START_LOAD, at end: $END_LOAD"
  echo "Command: DOCS=$DOCS THREADS=$THREADS REPEAT=$REPEAT benchmarks/pytorch/embed_scifact.sh"
  echo
  echo "$TABLE"
} | tee "$OUT"
