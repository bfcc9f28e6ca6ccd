#!/usr/bin/env bash
# The test command (README, .ci/run): install dependencies, fetch the reference model, build
# everything (the CUDA backend too when nvcc is present), run the test suite, then build and
# run examples/embed_text against the INSTALLED package.
#   scripts/test.sh            build dir: build/
#   BUILD_DIR=b scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
export PATH=/usr/local/cuda/bin:$PATH

scripts/install-deps.sh
scripts/fetch-model.sh "$ROOT/models/all-MiniLM-L6-v2"

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=AUTO \
      -DCMAKE_INSTALL_PREFIX="$ROOT/$BUILD_DIR/install" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

export SBERT_MINILM_DIR="$ROOT/models/all-MiniLM-L6-v2"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# ctest must see every Catch2 test case as one test: a name with ';' or an unbalanced '[' or ']'
# breaks CMake's list splitting, and the tests after it would silently run nothing.
# (Catch2 v2 exits with the number of tests it listed.)
N_CATCH=$({ "$BUILD_DIR/bin/sbert_tests" --list-test-names-only || true; } | grep -c .)
N_CTEST=$(cd "$BUILD_DIR" && ctest -N | sed -n 's/^Total Tests: //p')
if [ "$N_CATCH" != "$N_CTEST" ]; then
  echo "test.sh: sbert_tests has $N_CATCH test cases but ctest sees $N_CTEST: a test name has ';' or an unbalanced bracket" >&2
  exit 1
fi
(cd "$BUILD_DIR" && ctest --output-on-failure -j 1 --timeout 900)

# Every CUDA kernel on the CPU: the SIMT emulator build (docs/emulator.md) runs the [cuda] and
# [nccl] tests with memcheck, initcheck, racecheck and synccheck on, plus the emulator's own
# tests ([emu]: planted faults, the cuBLASLt and NCCL models). No GPU and no nvcc needed. The
# embedding apps are built too: their [cuda] tests run them with --device cuda.
EMU_DIR="$BUILD_DIR-emu"
cmake -S . -B "$EMU_DIR" -DCMAKE_BUILD_TYPE=Release -DSBERT_CUDA=EMU -DSBERT_BUILD_APPS=ON \
      -DSBERT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$EMU_DIR" -j "$JOBS" --target sbert_tests sbert-embed sbert-eval sbert-mine
"$EMU_DIR/bin/sbert_tests" "[cuda],[nccl],[emu]" --durations yes

# AddressSanitizer + UndefinedBehaviorSanitizer (docs/robustness.md): the library, the apps, the
# tests and the libFuzzer targets rebuilt with them in ONE clang-14 build (libFuzzer needs clang;
# one build instead of a GCC one for the tests and a clang one for the fuzzers keeps CI under 30
# minutes), then the CPU suite (all but the tests listed below) and a short run of every fuzz
# target. The tests that spawn apps run the sanitized apps (SBERT_BIN_DIR is the build's bin/).
# -O1: quicker to compile than -O2; -gline-tables-only: file:line in every report. Any finding
# fails: UBSan does not recover (-fno-sanitize-recover=all), ASan halts, LeakSanitizer reports at
# every process's exit.
ASAN_DIR="$BUILD_DIR-asan"
CC=clang-14 CXX=clang++-14 cmake -S . -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DSBERT_CUDA=OFF \
      -DSBERT_SANITIZE=address,undefined -DSBERT_FUZZ=ON -DSBERT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$ASAN_DIR" -j "$JOBS"
# The MiniLM-scale parity tests are left out (tools/sanitizers/skip-tests.txt says which and
# why): each takes minutes under ASan, and their code paths run at tiny scale in the step. The
# mpirun tests run with LeakSanitizer off (tools/sanitizers/no-leak-check-tests.txt: Open MPI's
# own leaks). Reports go to files, not stderr: a finding in an app that a test expects to fail
# (and whose stderr it reads) is still caught.
names_regex() { grep -v '^#' "$1" | grep . | sed 's/[][\\.*^$+?(){}|]/\\&/g; s/.*/^&$/' | paste -sd'|'; }
ASAN_SKIP=$(names_regex tools/sanitizers/skip-tests.txt)
ASAN_NO_LEAKS=$(names_regex tools/sanitizers/no-leak-check-tests.txt)
REPORTS="$(cd "$ASAN_DIR" && pwd)/sanitizer-reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
SAN_ASAN="strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1:log_path=$REPORTS/asan"
SAN_RC=0
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
(cd "$ASAN_DIR" && ASAN_OPTIONS="detect_leaks=1:$SAN_ASAN" \
   ctest --output-on-failure -j 1 --timeout 900 -E "$ASAN_SKIP|$ASAN_NO_LEAKS") || SAN_RC=$?
(cd "$ASAN_DIR" && ASAN_OPTIONS="detect_leaks=0:$SAN_ASAN" \
   ctest --output-on-failure -j 1 --timeout 900 -R "$ASAN_NO_LEAKS") || SAN_RC=$?
unset UBSAN_OPTIONS
if [ -n "$(ls -A "$REPORTS")" ]; then
  head -n 60 "$REPORTS"/*
  echo "test.sh: sanitizer findings (above; all in $REPORTS)" >&2
  exit 1
fi
[ "$SAN_RC" = 0 ] || exit "$SAN_RC"

# Every reader of untrusted input, fuzzed briefly from the same build (libFuzzer + ASan + UBSan;
# docs/robustness.md): a finding fails CI; the long runs' figures are in docs/robustness.md.
BUILD_DIR="$ASAN_DIR" FUZZ_CONFIGURE=0 JOBS="$JOBS" tests/fuzz/run.sh all "${FUZZ_SECONDS:-10}"

# The installed package works for a program outside the tree.
cmake --install "$BUILD_DIR" >/dev/null
cmake -S examples/embed_text -B "$BUILD_DIR/example" -DCMAKE_PREFIX_PATH="$ROOT/$BUILD_DIR/install" >/dev/null
cmake --build "$BUILD_DIR/example" -j "$JOBS" >/dev/null
LD_LIBRARY_PATH="$ROOT/$BUILD_DIR/install/lib:${LD_LIBRARY_PATH:-}" \
  "$BUILD_DIR/example/embed_text" "$SBERT_MINILM_DIR" examples/data/sentences.txt >/dev/null
echo "examples/embed_text: built against the installed package and ran"

# Every command of README.md and docs/*.md runs as written, on the bundled small data
# (tools/docs/check_commands.sh: the mapping, the not-run fences and why).
tools/docs/check_commands.sh "$BUILD_DIR"

# The installed headers declare the training API, and a program outside the tree fine-tunes,
# evaluates and saves with it (examples/finetune, on the tiny BEIR folder it ships).
for h in train.h eval.h mine.h convert.h; do
  test -f "$BUILD_DIR/install/include/sbert/$h" || { echo "sbert/$h is not installed" >&2; exit 1; }
done
cmake -S examples/finetune -B "$BUILD_DIR/example-finetune" -DCMAKE_PREFIX_PATH="$ROOT/$BUILD_DIR/install" >/dev/null
cmake --build "$BUILD_DIR/example-finetune" -j "$JOBS" >/dev/null
rm -rf "$BUILD_DIR/example-finetune/out"
LD_LIBRARY_PATH="$ROOT/$BUILD_DIR/install/lib:${LD_LIBRARY_PATH:-}" \
  "$BUILD_DIR/example-finetune/finetune" "$SBERT_MINILM_DIR" examples/finetune/data/beir \
  "$BUILD_DIR/example-finetune/out" | tail -1
test -f "$BUILD_DIR/example-finetune/out/model/model.safetensors"
echo "examples/finetune: built against the installed package, fine-tuned, evaluated, saved"

# libsbert.so exports exactly the public API listed in abi/exported-symbols.txt.
scripts/check-symbols.sh "$BUILD_DIR/lib/libsbert.so"
