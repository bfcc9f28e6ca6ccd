#!/usr/bin/env bash
# libsbert vs PyTorch / sentence-transformers, back to back, one markdown table.
#
#   benchmarks/pytorch/compare.sh                 # CPU table (2 threads), ~25 min on 2 cores
#   benchmarks/pytorch/compare.sh --quick         # 2 rows, a smoke test
#   DEVICE=cuda benchmarks/pytorch/compare.sh     # GPU rows (libsbert may answer "not built")
#
# Environment: BUILD (build dir, default build), PYTHON (default /opt/refvenv/bin/python),
# THREADS (default 2), OUT (markdown, default benchmarks/results/<device>-<date>.md), STEPS,
# ONLY (rows separated by ';', each "shape mode workload [sbert-bench options]").
# Every row runs `sbert-bench ... --write-workload W` then `bench_torch.py --workload W`: the
# same token ids on both sides. Raw JSON lines go next to the table (<OUT>.jsonl).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/opt/refvenv/bin/python}
THREADS=${THREADS:-2}
DEVICE=${DEVICE:-cpu}
STEPS=${STEPS:-3}
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
mkdir -p benchmarks/results
OUT=${OUT:-benchmarks/results/${DEVICE}-$(date +%F).md}
RAW="${OUT%.md}.jsonl"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: > "$RAW.tmp"

# shape mode workload [extra sbert-bench args...]
ROWS=(
  "minilm train len128"
  "minilm train len256"
  "minilm train scifact"
  "minilm train scifact --pad-to 256"
  "minilm train scifact --pad-to 512"
  "minilm embed len128"
  "minilm embed scifact"
  "bert-base train len128"
  "bert-base train scifact"
  "bert-base embed len128"
  "bert-base embed scifact"
)
[[ $QUICK == 1 ]] && ROWS=("minilm train len128" "minilm embed scifact")
# ONLY="minilm train len128;minilm embed scifact --pad-to 256" runs just those rows.
[[ -n "${ONLY:-}" ]] && IFS=';' read -r -a ROWS <<< "$ONLY"
[[ "$DEVICE" == cuda && $QUICK == 0 ]] && ROWS+=(
  "minilm train len512" "bert-base train len512" "bert-large train len128"
  "bert-large train len512" "bert-large train scifact" "bert-large embed scifact")

START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
i=0
for row in "${ROWS[@]}"; do
  read -r shape mode workload extra <<< "$row"
  i=$((i + 1))
  wl="$TMP/wl$i.json"
  echo "[$i/${#ROWS[@]}] $row" >&2
  # shellcheck disable=SC2086
  if ! "$BUILD/bin/sbert-bench" --shape "$shape" --mode "$mode" --workload "$workload" \
      --threads "$THREADS" --device "$DEVICE" --steps "$STEPS" $extra \
      --write-workload "$wl" >> "$RAW.tmp" 2> "$TMP/err"; then
    echo "  libsbert: $(tail -1 "$TMP/err")" >&2
    "$BUILD/bin/sbert-bench" --shape "$shape" --mode "$mode" --workload "$workload" \
      --steps "$STEPS" $extra --write-workload "$wl" --no-run
  fi
  "$PYTHON" benchmarks/pytorch/bench_torch.py --workload "$wl" --threads "$THREADS" \
    --device "$DEVICE" >> "$RAW.tmp"
done
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
mv "$RAW.tmp" "$RAW"

{
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores" \
       "visible, ${THREADS} threads; $(free -g | awk '/Mem:/{print $2}') GiB RAM" \
       "$([[ $DEVICE == cuda ]] && nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  echo "Date: $(date -u '+%F %H:%M UTC'); libsbert $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
       "torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
  echo "Load average (1/5/15 min) at start: $START_LOAD, at end: $END_LOAD"
  echo "Command: DEVICE=$DEVICE THREADS=$THREADS STEPS=$STEPS${ONLY:+ ONLY=\"$ONLY\"} benchmarks/pytorch/compare.sh $*"
  echo
  "$PYTHON" benchmarks/pytorch/table.py "$RAW"
} > "$OUT"
cat "$OUT"
