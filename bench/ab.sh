#!/usr/bin/env bash
# A/B of two server binaries with one of the bench scripts, in one run: the script runs PAIRS
# times with each binary, the order alternating within each pair (A B, B A, A B, …), so that
# whatever else the machine does falls on both sides alike. Only the server binary differs: the
# bench tools are built once from this checkout (or BENCH_TOOLS_DIR) and used by both.
#
#   bash bench/ab.sh chat-load.sh OLD/rampart NEW/rampart    # PAIRS=3
#   LITELLM=0 DURATION=10 bash bench/ab.sh chat-load.sh A B  # any setting reaches the script
#
# Each run's report is kept in OUT (default a new /tmp/rampart-ab.XXXXXX); afterwards the
# headline lines of every report (AB_GREP, an extended regex) are printed per run, labelled
# A/B and pair number, for the ratios to be taken pair by pair.
set -euo pipefail
[[ $# == 3 ]] || { echo "usage: $0 <bench script> <binary A> <binary B>" >&2; exit 2; }
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$REPO_ROOT/bench/$1"
A="$(realpath "$2")"
B="$(realpath "$3")"
PAIRS="${PAIRS:-3}"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/rampart-ab.XXXXXX")}"
AB_GREP="${AB_GREP:-^(ratio|Rampart|instruction|[0-9]+ concurrent)|server CPU|publish → |^\| (on|off) \|}"
[[ -f "$SCRIPT" && -x "$A" && -x "$B" ]] || { echo "no script $SCRIPT or binaries" >&2; exit 2; }
mkdir -p "$OUT"
if [[ -z "${BENCH_TOOLS_DIR:-}" ]]; then
    cargo build --release -q -p rampart-bench-tools --manifest-path "$REPO_ROOT/Cargo.toml"
    export BENCH_TOOLS_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release"
fi
run() { # label pair binary
    echo "[ab] $(date -u +%H:%M:%S) $1 pair $2" >&2
    BENCH_BIN="$3" SKIP_BUILD=1 bash "$SCRIPT" >"$OUT/$1-$2.md" 2>"$OUT/$1-$2.log" \
        || { tail -n 20 "$OUT/$1-$2.log" >&2; echo "[ab] $1 pair $2 failed" >&2; exit 1; }
}
for ((i = 1; i <= PAIRS; i++)); do
    if ((i % 2)); then run A "$i" "$A"; run B "$i" "$B"; else run B "$i" "$B"; run A "$i" "$A"; fi
done
echo "# A/B with $1: A = $A, B = $B, $PAIRS pairs, reports in $OUT"
for ((i = 1; i <= PAIRS; i++)); do
    for s in A B; do
        grep -E "$AB_GREP" "$OUT/$s-$i.md" | sed "s/^/$s$i: /"
    done
done
