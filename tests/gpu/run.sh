#!/usr/bin/env bash
# The GPU check, one command on a machine with an NVIDIA GPU (budget: < 8 minutes on an H100
# with 16 cores):
#   1. configure + build with -DSBERT_CUDA=ON into build-gpu/ (the test executable only)
#   2. the [cuda] tests: every CUDA kernel against its cpu/ twin; the [nccl] communicator tests,
#      also under mpirun -np 1
#   3. compute-sanitizer memcheck on them, then racecheck + synccheck on the shared-memory
#      kernels (attention, column sums)          (skipped when compute-sanitizer is absent)
#   4. the short kernel benchmark ([.cudabench]: MiniLM-sized shapes, validated first)
# Every step is logged to build-gpu/gpu-logs/<step>.log; a failing step does not stop the
# others; the summary at the end lists each step, and the exit status is 1 if any step failed.
#   tests/gpu/run.sh      (env: BUILD_DIR=build-gpu JOBS=nproc CUDA_ARCH=native)
set -u -o pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-build-gpu}
LOG="$BUILD/gpu-logs"
JOBS=${JOBS:-$(nproc)}
export PATH=/usr/local/cuda/bin:$PATH
export SBERT_MINILM_DIR=${SBERT_MINILM_DIR:-$ROOT/models/all-MiniLM-L6-v2}
mkdir -p "$LOG"
: >"$LOG/summary.txt"
T0=$(date +%s)
FAILED=0

# step NAME TIMEOUT_S COMMAND...: runs it with its output in $LOG/NAME.log (and the last lines
# on the console), records PASS / FAIL / TIMEOUT with the time taken.
step() {
  local name=$1 limit=$2
  shift 2
  local start rc status
  start=$(date +%s)
  echo "== [$name] $*"
  timeout --kill-after=10 "$limit" "$@" >"$LOG/$name.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    status=PASS
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    status="TIMEOUT(${limit}s)"
    FAILED=1
  else
    status="FAIL(rc=$rc)"
    FAILED=1
  fi
  tail -n 15 "$LOG/$name.log" | sed "s/^/   [$name] /"
  printf '%-22s %-16s %5ss  %s\n' "$name" "$status" $(($(date +%s) - start)) "$LOG/$name.log" \
    >>"$LOG/summary.txt"
  return $rc
}

skip() {
  printf '%-22s %-16s %5s   %s\n' "$1" SKIP - "$2" >>"$LOG/summary.txt"
  echo "== [$1] skipped: $2"
}

# ---- 0. the machine -------------------------------------------------------------------------
step machine 30 bash -c 'nvidia-smi; nvcc --version; nproc; free -g' || true

# ---- 1. build -------------------------------------------------------------------------------
# Only the machine's own architecture (halves nvcc time; CI compiles 80 and 90a).
ARCH_FLAG=(-DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-native}")
BUILT=0
if step configure 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=ON \
    -DSBERT_BUILD_APPS=OFF -DSBERT_BUILD_BENCHMARKS=OFF "${ARCH_FLAG[@]}"; then
  if step build 330 cmake --build "$BUILD" -j "$JOBS" --target sbert_tests; then BUILT=1; fi
else
  skip build "configure failed"
fi

TESTS="$BUILD/bin/sbert_tests"
if [ $BUILT -eq 1 ]; then
  # ---- 2. kernels vs CPU ------------------------------------------------------------------
  step cuda-tests 240 "$TESTS" "[cuda],[nccl]" --durations yes
  # The NCCL communicator under an MPI launch (the MPI host communicator broadcasts the id).
  if command -v mpirun >/dev/null 2>&1; then
    step nccl-mpirun 120 mpirun --allow-run-as-root -np 1 "$TESTS" "[nccl]"
  else
    skip nccl-mpirun "mpirun not found"
  fi
  if grep -q "no CUDA device" "$LOG/cuda-tests.log"; then
    echo "   WARNING: the [cuda] tests SKIPPED (no device visible): nothing was checked on a GPU"
    echo "cuda-tests             WARNING: skipped for lack of a device" >>"$LOG/summary.txt"
    FAILED=1
  fi

  # ---- 3. sanitizers --------------------------------------------------------------------
  if command -v compute-sanitizer >/dev/null 2>&1; then
    SAN=(compute-sanitizer --error-exitcode 1 --print-limit 20)
    step memcheck 240 "${SAN[@]}" --tool memcheck --leak-check full "$TESTS" "[cuda]"
    step racecheck 150 "${SAN[@]}" --tool racecheck --racecheck-report hazard "$TESTS" \
      "cuda attention forward/backward match the CPU" "cuda layernorm forward/backward match the CPU"
    step synccheck 90 "${SAN[@]}" --tool synccheck "$TESTS" \
      "cuda attention forward/backward match the CPU"
  else
    skip sanitizers "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
  fi

  # ---- 4. benchmark -----------------------------------------------------------------------
  step benchmark 90 "$TESTS" "[cudabench]" -s
  grep -h "^bench " "$LOG/benchmark.log" >"$LOG/benchmark.txt" 2>/dev/null || true
else
  skip cuda-tests "no build"
fi

echo
echo "================ tests/gpu/run.sh summary ($(($(date +%s) - T0)) s) ================"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(nvidia-smi: no GPU visible)"
cat "$LOG/summary.txt"
for f in cuda-tests memcheck racecheck synccheck; do
  [ -f "$LOG/$f.log" ] && grep -h -E "^(test cases|All tests passed)|ERROR SUMMARY|RACECHECK SUMMARY" "$LOG/$f.log" | sed "s/^/$f: /"
done
[ -s "$LOG/benchmark.txt" ] && cat "$LOG/benchmark.txt"
if [ $FAILED -ne 0 ]; then
  echo "RESULT: FAILED (logs in $LOG/)"
  exit 1
fi
echo "RESULT: PASSED"
