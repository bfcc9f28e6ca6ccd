#!/usr/bin/env bash
# DIR/run.sh: the libsbert GPU check from a prebuilt bundle (tests/gpu/bundle.sh DIR copies this
# file, tests/gpu/bundle_run.sh, there). Needs on the GPU machine only: an NVIDIA driver, CUDA
# 13's runtime libraries (cudart, cuBLASLt, NCCL: in /usr/local/cuda*, the system, or a Python's
# nvidia-* wheels) and, for the PyTorch side, a python3 with torch + transformers. No compiler,
# no network. Budget: under 8 minutes (BUDGET_S, default 450 s, caps every step's timeout).
#
#   0. device   bin/sbert-gpu-query (static CUDA runtime: needs only the driver). No device:
#               ONE line saying "no CUDA device", exit 1, nothing else runs.
#   1. machine  nvidia-smi, the devices, the python found and its torch
#   2. libs     ldd of every binary in the bundle: all resolve (which CUDA library comes from where)
#   3. tests    sbert_tests "[cuda]~[nccl]" (every CUDA kernel against its CPU twin), then "[nccl]"
#   4. bench    sbert_tests "[cudabench]" (our kernels at MiniLM shapes, validated, then timed);
#               per row (minilm train/embed len128, bert-base train len128, bert-large train
#               len512): sbert-bench --device cuda --precision bf16-mixed (a row that stops with
#               "not supported" is recorded as unsupported, not failed), then
#               benchmarks/pytorch/bench_torch.py --device cuda on the same token ids (bf16
#               autocast, SDPA) on the same GPU; then minilm train len128 once more with
#               --attention cudnn (cuDNN's fused attention, attention dropout 0)
#   5. sanitize compute-sanitizer memcheck on [cuda], racecheck + synccheck on the shared-memory
#               kernels (as tests/gpu/run.sh); SKIP when compute-sanitizer is not found
# A failing step does not stop the others; each has a timeout. Results: one JSON object per step
# in results/results.jsonl (name, status, seconds, numbers), logs in results/logs/, a summary on
# the console; exit 1 if a step FAILed or timed out.
#   bash DIR/run.sh     (env: BUDGET_S=450 RESULTS_DIR=DIR/results PYTHON=python-with-torch,
#                        SBERT_GPU_CHECK_DRY_RUN=1: go on without a device, to test the script)
set -u -o pipefail  # no -e: a failing step must not stop the others

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s)
DEADLINE=$((T0 + ${BUDGET_S:-450}))
TESTS="$DIR/bin/sbert_tests"
export SBERT_SOURCE_DIR="$DIR/src"  # fixtures (tests/fixtures/tiny-bert) for the tests
export SBERT_BIN_DIR="$DIR/bin"     # the apps the [cuda] app tests run (--device cuda)

RES=${RESULTS_DIR:-$DIR/results}
if ! mkdir -p "$RES/logs" 2>/dev/null || ! [ -w "$RES" ]; then
  RES=$(mktemp -d "${TMPDIR:-/tmp}/sbert-gpu-check.XXXXXX")
  mkdir -p "$RES/logs"
fi
LOG="$RES/logs"
JSONL="$RES/results.jsonl"
: >"$JSONL"
: >"$LOG/summary.txt"

# ---- helpers ----------------------------------------------------------------------------------
# A JSON string (quotes, backslashes escaped; control characters dropped).
js() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/ }
  s=${s//$'\t'/ }
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}
# A JSON number, or null.
jn() { if [[ ${1:-} =~ ^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then printf '%s' "$1"; else printf null; fi; }
FAILED=()
# record NAME STATUS SECONDS [JSON_FIELDS [NOTE]]: one line in results.jsonl and the summary.
record() {
  local name=$1 status=$2 secs=$3 fields=${4:-} note=${5:-}
  printf '{"name":%s,"status":%s,"seconds":%s%s}\n' "$(js "$name")" "$(js "$status")" \
    "$(jn "$secs")" "${fields:+,$fields}" >>"$JSONL"
  printf '%-38s %-14s %4ss  %s\n' "$name" "$status" "$secs" "$note" >>"$LOG/summary.txt"
  case $status in PASS | SKIP | unsupported) ;; *) FAILED+=("$name") ;; esac
}
# run_step NAME LIMIT_S COMMAND...: runs it under `timeout` (capped by what is left of the
# budget) with its output in $LOG/NAME.log and its last lines on the console. Sets RC, SECS and
# STATUS (PASS, FAIL(rc=N), TIMEOUT(Ns)); returns 1 unless PASS. Records nothing: the caller does,
# with the numbers it reads from the log.
run_step() {
  local name=$1 limit=$2 left start
  shift 2
  left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    RC=-1 SECS=0 STATUS="TIMEOUT(budget)"
    echo "time budget spent (BUDGET_S=${BUDGET_S:-450}): not run" >"$LOG/$name.log"
    echo "== [$name] not run: time budget spent"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== [$name] (timeout ${limit}s) $*"
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$LOG/$name.log" 2>&1
  RC=$?
  SECS=$(($(date +%s) - start))
  if [ $RC -eq 0 ]; then
    STATUS=PASS
  elif [ $RC -eq 124 ] || [ $RC -eq 137 ]; then
    STATUS="TIMEOUT(${limit}s)"
  else
    STATUS="FAIL(rc=$RC)"
  fi
  tail -n 8 "$LOG/$name.log" | sed "s/^/   [$name] /"
  [ $RC -eq 0 ]
}
# First number after a pattern in a file (grep -o, then the digits).
num_after() { grep -o -E "$1 *[0-9.eE+-]+" "$2" 2>/dev/null | tail -1 | grep -o -E '[0-9.eE+-]+$'; }
# A JSON object line from a file (the last line that starts with '{'), or null.
json_line() { local l; l=$(grep -E '^\{.*\}$' "$1" 2>/dev/null | tail -1); printf '%s' "${l:-null}"; }
dirs_that_exist() { local d; for d in "$@"; do [ -d "$d" ] && printf '%s\n' "$d"; done; }

# ---- 0. the device (nothing else without one) -------------------------------------------------
# The driver's libcuda.so.1: the system's (ldconfig) or a driver folder such as /usr/local/nvidia
# (containers mount it there); env -i may have dropped LD_LIBRARY_PATH, so add them.
DRIVER_DIRS=$(dirs_that_exist /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/wsl/lib | paste -sd:)
for d in /usr/local/nvidia/bin /usr/local/cuda/bin; do [ -d "$d" ] && PATH=$PATH:$d; done
export PATH
QUERY=$(LD_LIBRARY_PATH="${DRIVER_DIRS}${DRIVER_DIRS:+:}${LD_LIBRARY_PATH:-}" \
  timeout 60 "$DIR/bin/sbert-gpu-query" 2>&1)
QRC=$?
# SBERT_GPU_CHECK_DRY_RUN=1 goes on without a device: only to test this script on a machine
# without a GPU (every GPU step then fails or reports its skips).
if [ $QRC -ne 0 ] && [ "${SBERT_GPU_CHECK_DRY_RUN:-0}" = 1 ]; then
  echo "== DRY RUN without a device: $QUERY"
  record device DRY-RUN 0 "\"message\":$(js "$QUERY")" "SBERT_GPU_CHECK_DRY_RUN=1: $QUERY"
fi
if [ $QRC -ne 0 ] && [ "${SBERT_GPU_CHECK_DRY_RUN:-0}" != 1 ]; then
  line=$(printf '%s\n' "$QUERY" | grep -m1 'no CUDA device')
  [ -n "$line" ] || line="no CUDA device: bin/sbert-gpu-query failed (rc=$QRC): $(printf '%s' "$QUERY" | head -1)"
  record device FAIL $(($(date +%s) - T0)) "\"message\":$(js "$line")" "$line"
  echo "$line"
  exit 1
fi
echo "== [device] $QUERY"
[ $QRC -eq 0 ] && record device PASS $(($(date +%s) - T0)) "\"devices\":$(js "$QUERY")" \
  "$(printf '%s' "$QUERY" | head -1 | cut -c1-90)"

# ---- library paths ----------------------------------------------------------------------------
# A python with torch and transformers (the PyTorch benchmark), and its nvidia-* wheels' library
# folders: pip installs of PyTorch bring cuDNN, NCCL and cuBLAS there rather than /usr/local/cuda.
PY=""
for cand in "${PYTHON:-}" "$(command -v python3 2>/dev/null)" /opt/torch/.venv/bin/python3 \
    /opt/*/.venv/bin/python3 /opt/*/bin/python3 /usr/local/bin/python3 /usr/bin/python3; do
  [ -n "$cand" ] && [ -x "$cand" ] || continue
  if timeout 60 "$cand" -c 'import importlib.util as u, sys
sys.exit(0 if u.find_spec("torch") and u.find_spec("transformers") else 1)' 2>/dev/null; then
    PY=$cand
    break
  fi
done
WHEEL_DIRS=""
PYLIST=$PY
[ -z "$PYLIST" ] && PYLIST=$(command -v python3 2>/dev/null || true)
if [ -n "$PYLIST" ]; then
  WHEEL_DIRS=$(timeout 60 "$PYLIST" -c 'import glob, os, sys
seen = []
for p in sys.path:
    for pat in ("nvidia/*/lib", "nvidia/*/lib64", "nvidia/*/*/lib"):
        for d in sorted(glob.glob(os.path.join(p, pat))):
            if d not in seen and glob.glob(os.path.join(d, "lib*.so*")):
                seen.append(d)
print(":".join(seen))' 2>/dev/null)
fi
# CUDA installs: /usr/local/cuda (the default's link) first, then versioned ones, newest first.
CUDA_DIRS=$( (dirs_that_exist /usr/local/cuda/lib64 /usr/local/cuda/lib \
  /usr/local/cuda/targets/x86_64-linux/lib
  for d in $(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV); do
    dirs_that_exist "$d/lib64" "$d/lib" "$d/targets/x86_64-linux/lib"
  done) | paste -sd:)
OURS_LD=$(printf '%s' "$DIR/lib:$DRIVER_DIRS:$CUDA_DIRS:$WHEEL_DIRS:${LD_LIBRARY_PATH:-}" | tr -s ':' | sed 's/:$//')
# Our binaries run with OURS_LD (an `env` prefix, so that `timeout` can run it); python keeps
# its own environment (torch brings its libraries).
OURS=(env "LD_LIBRARY_PATH=$OURS_LD")
echo "== LD_LIBRARY_PATH for the bundle: $OURS_LD"
echo "== python: ${PY:-none with torch + transformers found}"

# ---- 1. machine -------------------------------------------------------------------------------
start=$(date +%s)
{
  echo "bundle: $(head -3 "$DIR/MANIFEST.txt" 2>/dev/null | tail -2 | paste -sd' ')"
  timeout 30 nvidia-smi 2>&1 || echo "(nvidia-smi not found or failed)"
  printf '%s\n' "$QUERY"
  echo "cpus: $(nproc)"; free -g 2>/dev/null | head -2
  uname -a; head -1 /etc/os-release 2>/dev/null
  echo "LD_LIBRARY_PATH (bundle binaries): $OURS_LD"
  echo "python: ${PY:-none}"
  [ -n "$PY" ] && timeout 90 "$PY" -c 'import torch, transformers; print("torch", torch.__version__,
"cuda", torch.version.cuda, "available", torch.cuda.is_available(), "transformers", transformers.__version__)'
} >"$LOG/machine.log" 2>&1
GPU=$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
[ -n "$GPU" ] || GPU=$(printf '%s' "$QUERY" | head -1)
TORCH=$(grep -m1 '^torch ' "$LOG/machine.log")
record machine PASS $(($(date +%s) - start)) "\"gpu\":$(js "$GPU"),\"python\":$(js "${PY:-}"),\"torch\":$(js "$TORCH")" \
  "$GPU"

# ---- 2. libraries -----------------------------------------------------------------------------
if command -v ldd >/dev/null 2>&1; then
  start=$(date +%s)
  for f in "$DIR"/bin/* "$DIR"/lib/*; do
    echo "## $f"
    "${OURS[@]}" ldd "$f" 2>&1
  done >"$LOG/libs.log"
  missing=$(grep 'not found' "$LOG/libs.log" | awk '{print $1}' | sort -u | paste -sd' ')
  cudalibs=$(grep -E '^\s*lib(cudart|cublasLt|cublas|nccl)\.so.* => /' "$LOG/libs.log" |
    awk '{print $1 "=" $3}' | sort -u | paste -sd' ')
  if [ -z "$missing" ]; then
    record libs PASS $(($(date +%s) - start)) "\"cuda_libs\":$(js "$cudalibs")" "$cudalibs"
  else
    record libs FAIL $(($(date +%s) - start)) "\"not_found\":$(js "$missing")" "not found: $missing"
  fi
else
  record libs SKIP 0 "\"reason\":\"ldd not found\"" "ldd not found"
fi

# ---- 3. tests ---------------------------------------------------------------------------------
# Catch2 v2 ends with "All tests passed (A assertions in N test cases)" or with
# "test cases: N | P passed | F failed"; a [cuda] test that finds no device WARNs and returns.
catch_fields() {
  local log=$1 cases passed failed asserts skipped
  if grep -q '^All tests passed' "$log"; then
    cases=$(grep '^All tests passed' "$log" | grep -o '[0-9]* test case' | grep -o '[0-9]*')
    asserts=$(grep '^All tests passed' "$log" | grep -o '[0-9]* assertion' | grep -o '[0-9]*')
    passed=$cases failed=0
  else
    cases=$(num_after '^test cases:' "$log")
    passed=$(grep '^test cases:' "$log" | grep -o '[0-9]* passed' | grep -o '[0-9]*')
    failed=$(grep '^test cases:' "$log" | grep -o '[0-9]* failed' | grep -o '[0-9]*')
    asserts=$(num_after '^assertions:' "$log")
    [ -n "$cases" ] && failed=${failed:-0} passed=${passed:-0}
  fi
  skipped=$(grep -c -E 'no CUDA device|no GPU: NCCL test skipped|built without NCCL' "$log")
  FIELDS=$(printf '"test_cases":%s,"passed":%s,"failed":%s,"assertions":%s,"skip_warnings":%s' \
    "$(jn "$cases")" "$(jn "$passed")" "$(jn "${failed:-0}")" "$(jn "$asserts")" "$(jn "$skipped")")
  SKIPPED=$skipped
  NOTE="${cases:-?} test cases, ${failed:-?} failed, ${asserts:-?} assertions"
}
test_step() {  # NAME LIMIT SPEC
  run_step "$1" "$2" "${OURS[@]}" "$TESTS" "$3" --durations yes
  catch_fields "$LOG/$1.log"
  if [ "$STATUS" = PASS ] && [ "${SKIPPED:-0}" -gt 0 ]; then
    STATUS=FAIL NOTE="$NOTE; SKIPPED for lack of a device or NCCL: nothing checked"
  fi
  record "$1" "$STATUS" "$SECS" "$FIELDS" "$NOTE"
}
test_step cuda-tests 180 "[cuda]~[nccl]"
test_step nccl-tests 90 "[nccl]"

# ---- 4. benchmarks ----------------------------------------------------------------------------
run_step cudabench 90 "${OURS[@]}" "$TESTS" "[cudabench]" -s
ops=$(grep -E '^bench ' "$LOG/cudabench.log" | awk '{printf "%s\"%s\":%s", (n++ ? "," : ""), $2, $3}')
nops=$(grep -c '^bench ' "$LOG/cudabench.log")
if [ "$STATUS" = PASS ] && { [ "$nops" -eq 0 ] || grep -q 'no CUDA device' "$LOG/cudabench.log"; }; then
  STATUS=FAIL  # skipped for lack of a device: nothing was timed
fi
record cudabench "$STATUS" "$SECS" "\"ops_ms\":{$ops}" "$nops kernels timed (ms below)"

TOK="$DIR/src/tests/fixtures/tiny-bert"  # lenN workloads draw random ids; the tokenizer is unused
BENCH_ROWS=("minilm train len128" "minilm embed len128" "bert-base train len128"
  "bert-large train len512")
BENCH_TABLE=()
for row in "${BENCH_ROWS[@]}"; do
  read -r shape mode workload <<<"$row"
  tag="$shape-$mode-$workload"
  lname="bench-libsbert-$tag" pname="bench-pytorch-$tag"
  wl="$RES/workload-$tag.json"
  rm -f "$wl"
  args=(--shape "$shape" --mode "$mode" --workload "$workload" --steps 5 --warmup 2
    --tokenizer "$TOK" --write-workload "$wl")
  # Ours. The workload is written before the run, so PyTorch gets it even when ours fails.
  # bf16-mixed, as the PyTorch side's bf16 autocast.
  run_step "$lname" 90 "${OURS[@]}" "$DIR/bin/sbert-bench" "${args[@]}" --device cuda \
    --precision bf16-mixed
  ours_json=$(json_line "$LOG/$lname.log")
  ours_s=$(printf '%s' "$ours_json" | grep -o '"step_s_median": *[0-9.eE+-]*' | grep -o '[0-9.eE+-]*$')
  if [ "$STATUS" = PASS ]; then
    record "$lname" PASS "$SECS" "\"result\":$ours_json" "step ${ours_s}s (median)"
    ours_col="${ours_s}s"
  else
    msg=$(grep -m1 -i 'error' "$LOG/$lname.log" | cut -c1-300)
    if grep -q -E 'do not drive the CUDA kernels|not supported|unsupported' "$LOG/$lname.log"; then
      STATUS=unsupported
    fi
    record "$lname" "$STATUS" "$SECS" "\"message\":$(js "$msg")" "$(printf '%s' "$msg" | cut -c1-70)"
    ours_col=$STATUS
  fi
  [ -s "$wl" ] || "${OURS[@]}" "$DIR/bin/sbert-bench" "${args[@]}" --no-run >>"$LOG/$lname.log" 2>&1
  # PyTorch on the same GPU, the same token ids.
  if [ -z "$PY" ]; then
    record "$pname" FAIL 0 "\"message\":\"no python3 with torch and transformers found (set PYTHON)\"" \
      "no python with torch + transformers (set PYTHON)"
    torch_col=none
  elif [ ! -s "$wl" ]; then
    record "$pname" FAIL 0 "\"message\":\"sbert-bench wrote no workload\"" "no workload"
    torch_col=none
  else
    run_step "$pname" 120 "$PY" "$DIR/src/benchmarks/pytorch/bench_torch.py" \
      --workload "$wl" --device cuda
    torch_json=$(json_line "$LOG/$pname.log")
    torch_s=$(printf '%s' "$torch_json" | grep -o '"step_s_median": *[0-9.eE+-]*' | grep -o '[0-9.eE+-]*$')
    if [ "$STATUS" = PASS ] && [ "$torch_json" != null ]; then
      record "$pname" PASS "$SECS" "\"result\":$torch_json" "step ${torch_s}s (median)"
      torch_col="${torch_s}s"
    else
      record "$pname" "$STATUS" "$SECS" "" "$(tail -1 "$LOG/$pname.log" | cut -c1-70)"
      torch_col=$STATUS
    fi
  fi
  BENCH_TABLE+=("$(printf '%-26s %-22s %s' "$tag" "$ours_col" "$torch_col")")
done
# cuDNN's fused attention in our training step (model.attention_backend cudnn, docs/kernels.md):
# minilm train len128 again with --attention cudnn. It runs with attention dropout 0 (cuDNN cannot
# draw our masks), the rows above with the model's 0.1.
cname=bench-libsbert-minilm-train-len128-cudnn
run_step "$cname" 90 "${OURS[@]}" "$DIR/bin/sbert-bench" --shape minilm --mode train \
  --workload len128 --steps 5 --warmup 2 --tokenizer "$TOK" --device cuda \
  --precision bf16-mixed --attention cudnn
c_json=$(json_line "$LOG/$cname.log")
c_s=$(printf '%s' "$c_json" | grep -o '"step_s_median": *[0-9.eE+-]*' | grep -o '[0-9.eE+-]*$')
if [ "$STATUS" = PASS ]; then
  record "$cname" PASS "$SECS" "\"result\":$c_json" "step ${c_s}s (median, attention dropout 0)"
  BENCH_TABLE+=("$(printf '%-26s %-22s %s' "minilm-train-len128-cudnn" "${c_s}s" "-")")
else
  msg=$(grep -m1 -i 'error' "$LOG/$cname.log" | cut -c1-300)
  record "$cname" "$STATUS" "$SECS" "\"message\":$(js "$msg")" "$(printf '%s' "$msg" | cut -c1-70)"
fi

# ---- 5. compute-sanitizer ---------------------------------------------------------------------
SAN=""
for cand in "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer \
    /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
  [ -n "$cand" ] && [ -x "$cand" ] && { SAN=$cand; break; }
done
if [ -z "$SAN" ] && [ -n "$PY" ]; then  # a pip install of the CUDA toolkit (nvidia/*/bin/...)
  SAN=$(timeout 30 "$PY" -c 'import glob, os, sys
for p in sys.path:
    for c in glob.glob(os.path.join(p, "nvidia", "**", "compute-sanitizer"), recursive=True):
        if os.path.isfile(c) and os.access(c, os.X_OK):
            print(c); sys.exit()' 2>/dev/null)
fi
san_step() {  # NAME LIMIT TOOL ARGS... -- TEST SPECS...
  local name=$1 limit=$2 errors hazards
  shift 2
  run_step "$name" "$limit" "${OURS[@]}" "$SAN" --error-exitcode 1 --print-limit 20 "$@"
  errors=$(grep -o -E 'ERROR SUMMARY: [0-9]+' "$LOG/$name.log" | tail -1 | grep -o '[0-9]*$')
  hazards=$(grep -o -E 'RACECHECK SUMMARY: [0-9]+' "$LOG/$name.log" | tail -1 | grep -o '[0-9]*$')
  # racecheck: "RACECHECK SUMMARY: H hazards displayed (E errors, W warnings)"
  [ -n "$errors" ] || errors=$(grep -o -E 'RACECHECK SUMMARY: .*\([0-9]+ error' "$LOG/$name.log" |
    tail -1 | grep -o -E '[0-9]+ error' | grep -o -E '[0-9]+')
  record "$name" "$STATUS" "$SECS" "\"errors\":$(jn "$errors"),\"hazards\":$(jn "$hazards"),\"tool\":$(js "$SAN")" \
    "errors ${errors:-?}${hazards:+, hazards $hazards}"
}
if [ -n "$SAN" ]; then
  san_step memcheck 180 --tool memcheck --leak-check full "$TESTS" "[cuda]"
  san_step racecheck 90 --tool racecheck --racecheck-report hazard "$TESTS" \
    "cuda attention forward/backward match the CPU" "cuda layernorm forward/backward match the CPU"
  san_step synccheck 60 --tool synccheck "$TESTS" "cuda attention forward/backward match the CPU"
else
  for t in memcheck racecheck synccheck; do
    record "$t" SKIP 0 "\"reason\":\"compute-sanitizer not found\"" \
      "compute-sanitizer not found (PATH, /usr/local/cuda*/, python's nvidia wheels)"
  done
fi

# ---- summary ----------------------------------------------------------------------------------
TOTAL=$(($(date +%s) - T0))
RESULT=PASSED
[ ${#FAILED[@]} -gt 0 ] && RESULT=FAILED
failed_json=$(for f in "${FAILED[@]}"; do js "$f"; echo; done | paste -sd,)
printf '{"name":"summary","status":%s,"seconds":%s,"gpu":%s,"failed":[%s],"bundle":%s}\n' \
  "$(js "$RESULT")" "$TOTAL" "$(js "$GPU")" "$failed_json" \
  "$(js "$(sed -n 2p "$DIR/MANIFEST.txt" 2>/dev/null)")" >>"$JSONL"
echo
echo "================ libsbert GPU check (bundle run.sh): ${TOTAL} s ================"
echo "GPU: $GPU"
cat "$LOG/summary.txt"
echo
printf '%-26s %-22s %s\n' "benchmark (step median)" "libsbert --device cuda" "pytorch (bf16, same GPU)"
printf '%s\n' "${BENCH_TABLE[@]}"
grep -E '^bench ' "$LOG/cudabench.log" 2>/dev/null | sed 's/^/  /'
echo
echo "results (JSON lines): $JSONL"
echo "logs: $LOG/"
if [ "$RESULT" = FAILED ]; then
  echo "RESULT: FAILED (${FAILED[*]})"
  exit 1
fi
echo "RESULT: PASSED"
