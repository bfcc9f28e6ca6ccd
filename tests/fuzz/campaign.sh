#!/usr/bin/env bash
# A long fuzzing campaign (docs/robustness.md, "Fuzzing"): every target until it has run
# GOAL_RUNS executions (default 10 million) or GOAL_SECONDS seconds (default 3600) on the same
# binary. It runs in slices of tests/fuzz/run.sh and keeps a ledger, so that a campaign can be
# stopped (kill it: only the slice under way is lost) and resumed later with the same binaries.
#   tests/fuzz/campaign.sh [SLICE_SECONDS]     default 600
#   tests/fuzz/campaign.sh --report            each target's totals so far
#   BUILD_DIR  the fuzz build (default build-fuzz, made by tests/fuzz/run.sh); it is not rebuilt
#   WORKERS    targets fuzzed at once (default nproc)
# Ledger: BUILD_DIR/campaign.tsv, a line a slice: time, target, binary (sha256, 16 digits), runs,
# seconds, cov, ft, result, clock. seconds is the CPU time the fuzzer used (clock "cpu"): at
# nice 19 beside other work a slice's wall time can be mostly waiting. Lines without a clock
# (before 2026-12-06 10:40 UTC) counted wall seconds. A target's totals count only the slices of the binary there now.
# The next slice goes to the unfinished target closest to its goal; a target with a finding
# stops there (its log and input are in BUILD_DIR/logs and BUILD_DIR/artifacts).
# The campaign runs at the lowest priority beside other work, where a starved process can spend
# a 2 s limit on a one-off table build, so its fuzzers get a 10 s limit per input
# (CAMPAIGN_TIMEOUT). A timeout is a finding only if its input also times out run alone, at
# normal priority in its own session (scheduling group), under run.sh's 2 s limit: an input that
# finishes so three times is moved to artifacts/T/unconfirmed/ and its slice is recorded as
# "ok:timeout-not-reproduced" with the runs it made.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
GOAL_RUNS=${GOAL_RUNS:-10000000}
GOAL_SECONDS=${GOAL_SECONDS:-3600}
LEDGER=$BUILD_DIR/campaign.tsv
CLAIMS=$BUILD_DIR/campaign.claims
LOCK=$BUILD_DIR/campaign.lock
TARGETS=$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')

binary_id() { sha256sum "$BUILD_DIR/bin/fuzz_$1" | cut -c1-16; }

# One line a target: target, binary, runs, seconds, last cov, last ft, state
# (done / finding / open), seconds still needed at the observed rate.
totals() {
  for t in $TARGETS; do
    [ -x "$BUILD_DIR/bin/fuzz_$t" ] || { echo "campaign: $BUILD_DIR/bin/fuzz_$t is missing" >&2; exit 1; }
    awk -F'\t' -v t="$t" -v id="$(binary_id "$t")" -v gr="$GOAL_RUNS" -v gs="$GOAL_SECONDS" '
      $2 == t && $3 == id { runs += $4; secs += $5; if ($6 != "-") { cov = $6; ft = $7 }
                            if ($8 !~ /^ok/) bad = 1 }
      END {
        state = bad ? "finding" : (runs >= gr || secs >= gs) ? "done" : "open"
        need = secs > 0 ? (gr - runs) / (runs / secs) : 0
        if (gs - secs < need) need = gs - secs
        printf "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\n", t, id, runs, secs, cov, ft, state, need
      }' "$LEDGER"
  done
}

touch "$LEDGER"
if [ "${1:-}" = --report ]; then
  printf '%-15s %-16s %12s %8s %8s %6s %7s  %s\n' target binary runs seconds exec/s cov ft state
  totals | awk -F'\t' '{ printf "%-15s %-16s %12d %8d %8d %6s %7s  %s\n", $1, $2, $3, $4,
                                  ($4 > 0 ? $3 / $4 : 0), $5, $6, $7 }'
  exit 0
fi
SLICE=${1:-600}
: >"$CLAIMS"

# Under the lock: claims the open, unclaimed target nearest its goal; prints "target limit".
claim() {
  local pick t runs secs left
  pick=$(totals | awk -F'\t' '$7 == "open"' | grep -vwFf "$CLAIMS" | sort -t$'\t' -k8,8n |
         head -1 || true)
  [ -n "$pick" ] || return 0
  IFS=$'\t' read -r t _ runs secs _ <<<"$pick"
  left=$((GOAL_SECONDS - secs))
  [ "$left" -lt "$SLICE" ] || left=$SLICE
  echo "$t" >>"$CLAIMS"
  echo "$t ${left}s:$((GOAL_RUNS - runs))r"
}

# Under the lock: one ledger line (target binary runs seconds cov ft result); the claim ends.
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tcpu\n' "$(date -u +%FT%TZ)" "$@" >>"$LEDGER"
  grep -vxF "$1" "$CLAIMS" >"$CLAIMS.new" || true
  mv "$CLAIMS.new" "$CLAIMS"
}

locked() { ( flock 9; "$@" ) 9>"$LOCK"; }

# CPU seconds (user + system) of the finished children of process $1 (a worker: its own
# $BASHPID, read before the $( ) subshell): /proc/PID/stat's cutime and cstime, in clock ticks.
children_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($14 + $15) / hz }' "/proc/$1/stat"
}

# Runs a timeout input alone three times under the fuzz run's limit; succeeds if it never times out.
timeout_unconfirmed() {
  local t=$1 input=$2
  for _ in 1 2 3; do
    setsid -w nice -n -19 "$BUILD_DIR/bin/fuzz_$t" -timeout="${FUZZ_TIMEOUT:-2}" \
      -rss_limit_mb=2048 "$input" >/dev/null 2>&1 || return 1
  done
}

worker() {
  local t limit id out runs secs cov ft result input me cpu0 cpu
  while :; do
    t='' limit=''
    read -r t limit < <(locked claim) || true
    [ -n "$t" ] || return 0
    id=$(binary_id "$t")
    me=$BASHPID
    cpu0=$(children_cpu "$me")
    out=$(BUILD_DIR=$BUILD_DIR FUZZ_BUILD=0 FUZZ_CONFIGURE=0 FUZZ_TIMEOUT=${CAMPAIGN_TIMEOUT:-10} \
          tests/fuzz/run.sh "$t" "$limit" 2>&1 |
          grep '^fuzz ' || true)
    echo "$out"
    cpu=$(awk -v a="$cpu0" -v b="$(children_cpu "$me")" 'BEGIN { printf "%d", b - a + 0.5 }')
    if [[ "$out" == *"no finding"* ]]; then
      read -r _ _ runs _ _ _ _ cov _ ft _ _ <<<"$out"
      secs=$cpu result=ok
    else
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD_DIR/logs/$t.log" | tail -1)
      secs=0 cov=- ft=- result=finding
      input=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$BUILD_DIR/logs/$t.log" | tail -1)
      if [[ "$(basename "${input:-x}")" == timeout-* ]] && timeout_unconfirmed "$t" "$input"; then
        mkdir -p "$(dirname "$input")/unconfirmed"
        mv "$input" "$(dirname "$input")/unconfirmed/"
        secs=$cpu result=ok:timeout-not-reproduced
        echo "fuzz $t: the timeout on $(basename "$input") did not recur run alone; slice kept"
      fi
    fi
    locked record "$t" "$id" "${runs:-0}" "$secs" "$cov" "$ft" "$result"
  done
}

for _ in $(seq "${WORKERS:-$(nproc)}"); do worker & done
wait
"$0" --report
