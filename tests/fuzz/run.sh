#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan + libFuzzer) and runs them
# (docs/robustness.md, "Fuzzing").
#   tests/fuzz/run.sh TARGET|all [LIMIT]
#     LIMIT: N or Ns = N seconds per target (default 20), Nr = N executions per target,
#            Ns:Mr = whichever comes first
#   BUILD_DIR (default build-fuzz): the build; its corpus/<target>/ is the working corpus
#     (seeded by tests/fuzz/seeds.sh, grown by each run), artifacts/<target>/ holds findings
#     and logs/<target>.log each run's output.
#   FUZZ_TIMEOUT (default 2): seconds one input may take before it is a finding (a hang).
#   JOBS (default nproc): build parallelism.
#   FUZZ_CONFIGURE=0: build and run in BUILD_DIR as already configured (with SBERT_FUZZ=ON).
#   FUZZ_BUILD=0: run the targets as built and seeded (tests/fuzz/campaign.sh: the binaries must
#                 not change under a campaign, and two runs at once must not build or seed at once).
# Prints one line per target: executions, exec/s, coverage (cov, ft), seconds, and the
# finding's file when there is one; exits non-zero when any target found something.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET=${1:?usage: tests/fuzz/run.sh TARGET|all [N|Ns|Nr]}
LIMIT=${2:-20}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
CC_FUZZ=${CC_FUZZ:-clang-14}

if ! command -v "$CXX_FUZZ" >/dev/null; then
  echo "fuzz: $CXX_FUZZ not found: the fuzz targets need clang with libFuzzer" \
       "(Debian: apt-get install clang-14 libclang-rt-14-dev libomp-14-dev;" \
       "scripts/install-deps.sh installs them)" >&2
  exit 1
fi

limit_flag() {
  case "$1" in
    *r) echo "-runs=${1%r}" ;;
    *s) echo "-max_total_time=${1%s}" ;;
    *) echo "-max_total_time=$1" ;;
  esac
}
LIMIT_FLAGS=()
IFS=: read -ra limits <<<"$LIMIT"
for l in "${limits[@]}"; do LIMIT_FLAGS+=("$(limit_flag "$l")"); done

# The largest input each target tries: a few times its seeds, small enough to stay fast.
max_len() {
  case "$1" in
    tokenizer_json|bpe_files) echo 65536 ;;
    vocab_txt|train_json|yaml_config) echo 16384 ;;
    npy|checkpoint) echo 4096 ;;
    *) echo 8192 ;;
  esac
}
dict() {
  case "$1" in
    yaml_config) echo "-dict=$ROOT/tests/fuzz/dict/yaml.dict" ;;
    npy|safetensors|spm_model|sts|train_table) echo "" ;;
    *) echo "-dict=$ROOT/tests/fuzz/dict/json.dict" ;;
  esac
}

# FUZZ_CONFIGURE=0 uses BUILD_DIR as it is configured (scripts/test.sh: its sanitizer build,
# which also builds the tests, has SBERT_FUZZ on); the default configures a fuzz-only build.
if [ "${FUZZ_BUILD:-1}" = 0 ]; then
  :
elif [ "${FUZZ_CONFIGURE:-1}" = 1 ]; then
  CC=$CC_FUZZ CXX=$CXX_FUZZ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DSBERT_CUDA=OFF -DSBERT_MPI=OFF -DSBERT_BUILD_TESTS=OFF -DSBERT_BUILD_APPS=OFF \
    -DSBERT_BUILD_BENCHMARKS=OFF -DSBERT_SANITIZE=address,undefined -DSBERT_FUZZ=ON \
    -DCMAKE_CXX_FLAGS=-gline-tables-only >/dev/null
elif ! grep -q '^SBERT_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz: $BUILD_DIR is not configured with -DSBERT_FUZZ=ON" >&2
  exit 1
fi
if [ "$TARGET" = all ]; then
  TARGETS=$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
  [ "${FUZZ_BUILD:-1}" = 0 ] || cmake --build "$BUILD_DIR" -j "$JOBS" --target sbert_fuzz
else
  TARGETS=$TARGET
  [ "${FUZZ_BUILD:-1}" = 0 ] || cmake --build "$BUILD_DIR" -j "$JOBS" --target "fuzz_$TARGET"
fi

[ "${FUZZ_BUILD:-1}" = 0 ] || tests/fuzz/seeds.sh "$BUILD_DIR/corpus"
mkdir -p "$BUILD_DIR/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in $TARGETS; do
  art="$BUILD_DIR/artifacts/$t"
  mkdir -p "$art"
  log="$BUILD_DIR/logs/$t.log"
  start=$(date +%s.%N)
  rc=0
  # shellcheck disable=SC2046
  "$BUILD_DIR/bin/fuzz_$t" "$BUILD_DIR/corpus/$t" $(dict "$t") "${LIMIT_FLAGS[@]}" \
    -max_len="$(max_len "$t")" -timeout="${FUZZ_TIMEOUT:-2}" -rss_limit_mb=2048 \
    -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  rate=$(awk -v n="${runs:-0}" -v s="$secs" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')
  if [ "$rc" = 0 ]; then
    printf 'fuzz %-15s %10s runs %7s exec/s  cov %5s  ft %6s  %6.0f s  no finding\n' \
      "$t" "${runs:-?}" "$rate" "${cov:-?}" "${ft:-?}" "$secs"
  else
    status=1
    finding=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    printf 'fuzz %-15s FINDING (exit %s) after %s runs: %s (log: %s)\n' \
      "$t" "$rc" "${runs:-?}" "${finding:-see log}" "$log"
    grep -m3 -E 'ERROR|runtime error|terminate|sbert fuzz' "$log" | sed 's/^/  /' || true
  fi
done
exit $status
