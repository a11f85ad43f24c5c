#!/usr/bin/env bash
# Meeting summaries of a one-hour transcript with the fake upstream: model calls and wall time.
# bench-tools' summary-bench stores MINUTES of synthetic talk (WPM words a minute) as a meeting
# through the meetings service, then writes its summary RUNS times as a meeting's end does (the
# sealed transcript read, the templates in effect, map-reduce within the context, one call per
# section, the sections sealed and stored), against bench-tools' fake-upstream (answers from
# memory at once: what is measured is Rampart's part), for each context size in CONTEXTS; then
# once without a model (the extractive summary). Prints a markdown report.
#
# Settings (environment): MINUTES=60 WPM=150 RUNS=5 CONTEXTS="8192 32768 131072" MAX_TOKENS=1024
#   CONCURRENCY=4, BENCH_TOOLS_DIR (default: the release build, built unless SKIP_BUILD=1),
#   BUILD_TIMEOUT=3600, KEEP_TMP.
set -euo pipefail
MINUTES="${MINUTES:-60}"
WPM="${WPM:-150}"
RUNS="${RUNS:-5}"
CONTEXTS="${CONTEXTS:-8192 32768 131072}"
MAX_TOKENS="${MAX_TOKENS:-1024}"
CONCURRENCY="${CONCURRENCY:-4}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[summary] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v jq >/dev/null || die "jq is required"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MINUTES WPM RUNS MAX_TOKENS CONCURRENCY BUILD_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
bench_tmp summary
resolve_tools fake-upstream summary-bench
start_upstream

# run ARGS…: one summary-bench run in a fresh data dir; its JSON on stdout. (Called in a
# command substitution: a subshell, so the data dir is made here, not counted.)
run() {
    local data
    data="$(mktemp -d "$TMP/data.XXXXXX")"
    run_bg timeout 600 "$TOOLS/summary-bench" --data-dir "$data" --minutes "$MINUTES" --words-per-minute "$WPM" \
        --runs "$RUNS" --max-tokens "$MAX_TOKENS" --concurrency "$CONCURRENCY" "$@" >"$data/out.json" \
        || die "summary-bench failed"
    cat "$data/out.json"
}

# row JSON LABEL: a table row (the first run is a warm-up and left out of the median).
row() {
    jq -r --arg name "$2" '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        (.runs[1:] // .runs) as $r
        | "| \($name) | \(.estimatedTokens) | \(.contextTokens) | \($r[0].modelCalls) (\($r[0].mapCalls) map + \($r[0].sections) sections) | \([$r[].wallMs] | median) | \([$r[].wallMs] | max) |"' <<<"$1"
}

rows=()
first=""
for ctx in $CONTEXTS; do
    whole_numbers ctx
    out="$(run --upstream "$UPSTREAM_URL" --context-tokens "$ctx")"
    first="${first:-$out}"
    rows+=("$(row "$out" "model, context $ctx")")
done
out="$(run --context-tokens 8192)"
rows+=("$(row "$out" "no model (extractive)")")

echo "## Meeting summary of a ${MINUTES}-minute transcript"
echo
jq -r '"- transcript: \(.segments) segments, \(.words) words, \(.transcriptChars) characters (synthetic, \(.minutes) min at '"$WPM"' words/min)"' <<<"$first"
echo "- upstream: $TOOLS/fake-upstream (answers at once); summary_max_tokens $MAX_TOKENS, summary_concurrency $CONCURRENCY; $RUNS runs each, the first a warm-up"
echo
echo "| summary | transcript tokens (estimated) | context | model calls | wall ms (median) | wall ms (max) |"
echo "|---|---:|---:|---|---:|---:|"
printf '%s\n' "${rows[@]}"
