#!/usr/bin/env bash
# The cost of the edge pipeline in instructions: the server runs under valgrind's callgrind,
# which counts the instructions it executes — the same count for the same binary and requests,
# whatever else the machine is doing (edge-load.sh's throughput ratio ranged from −1% to +32%
# over one afternoon on a shared 2-core machine).
#
# For each mode (every edge rule on, then off — the same two configurations as edge-load.sh):
# start the release binary under callgrind, send WARMUP requests, zero the counters, send
# REQUESTS requests one after another on one keep-alive connection (curl), dump the counters;
# then the same for IDLE seconds without requests (the timers that run anyway), subtracted
# pro rata. Cost = instructions per request on / off − 1.
#
# Settings (environment): REQUESTS=2000 WARMUP=200 IDLE=5 BENCH_BIN SKIP_BUILD BUILD_TIMEOUT=3600
#   STARTUP_TIMEOUT=180 KEEP_TMP (keeps the callgrind files: callgrind_annotate shows where)
set -euo pipefail

REQUESTS="${REQUESTS:-2000}"
WARMUP="${WARMUP:-200}"
IDLE="${IDLE:-5}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-180}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[edge-instructions] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v curl >/dev/null || die "curl is required"
command -v valgrind >/dev/null || die "valgrind is required (apt-get install valgrind)"
command -v callgrind_control >/dev/null || die "callgrind_control is required (it comes with valgrind)"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers REQUESTS WARMUP IDLE
((REQUESTS > 0)) || die "REQUESTS must be at least 1"
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=edge-lib.sh
source "$REPO_ROOT/bench/edge-lib.sh"
# shellcheck source=callgrind-lib.sh
source "$REPO_ROOT/bench/callgrind-lib.sh"
bench_tmp edge-instr

resolve_binary
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_CONFIG RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
# The access log stays on (stdout, into $TMP/server.log): it is part of every request's cost.
bench_user bench@example.com
UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

# requests N with_origin(0|1): N sequential requests on one connection; prints how many got 200.
requests() {
    local n=$1 cfg="$TMP/curl.cfg"
    {
        echo "header = \"x-api-key: $API_KEY\""
        echo "header = \"user-agent: $UA\""
        echo 'header = "referer: https://app.example.com/chat"'
        if (($2)); then echo "header = \"x-origin-verify: $ORIGIN_SECRET\""; fi
        echo 'write-out = "%{http_code}\n"'
        for ((i = 0; i < n; i++)); do
            echo "url = \"$BASE$PATH_Q\""
            echo 'output = "/dev/null"'
        done
    } >"$cfg"
    curl -s -K "$cfg" | grep -c '^200$' || true
}

declare -A PER_REQ IDLE_PER_S WALL OK
measure() { # mode
    local mode=$1 with_origin=0
    [[ "$mode" == on ]] && with_origin=1
    log "edge $mode: starting under callgrind"
    start_with "$mode" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$mode.out" --dump-instr=no --dump-line=no
    local ok
    ok="$(requests "$WARMUP" "$with_origin")"
    ((ok == WARMUP)) || die "warm-up: $ok of $WARMUP requests answered 200 with the edge $mode"
    if [[ "$mode" == on ]]; then
        local code
        code="$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $API_KEY" "$BASE$PATH_Q")"
        [[ "$code" == 403 ]] || die "the edge is not on: a request without X-Origin-Verify answered $code"
    fi
    callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1
    local t0=$SECONDS
    OK[$mode]="$(requests "$REQUESTS" "$with_origin")"
    WALL[$mode]=$((SECONDS - t0))
    local busy idle
    busy="$(total "$(dump "$mode" load)")"
    callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1
    sleep "$IDLE"
    idle="$(total "$(dump "$mode" idle)")"
    stop_pid "$SERVER_PID" 60
    SERVER_PID=""
    IDLE_PER_S[$mode]="$(awk -v i="$idle" -v s="$IDLE" 'BEGIN { printf "%.0f", (s > 0 ? i / s : 0) }')"
    PER_REQ[$mode]="$(awk -v b="$busy" -v i="${IDLE_PER_S[$mode]}" -v w="${WALL[$mode]}" -v n="$REQUESTS" \
        'BEGIN { printf "%.0f", (b - i * w) / n }')"
    log "edge $mode: $busy instructions for $REQUESTS requests in ${WALL[$mode]}s; idle $idle in ${IDLE}s"
}

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
measure on
measure off
((OK[on] == REQUESTS && OK[off] == REQUESTS)) || die "not every request answered 200 (on: ${OK[on]}, off: ${OK[off]})"

echo "### edge-instructions $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load average at start: $LOAD0 (instruction counts do not depend on it)"
echo "- rampart: $BIN (repository at git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), SQLite, log filter ${RAMPART_LOG:-default (info)}, $(valgrind --version)"
echo "- request: GET $PATH_Q with x-api-key, a browser User-Agent and Referer; $REQUESTS sequential requests on one connection after $WARMUP warm-up requests; idle timers measured over ${IDLE}s and subtracted"
echo
echo "| edge | instructions/request | idle instructions/s | wall s under callgrind |"
echo "|---|---:|---:|---:|"
for m in on off; do
    echo "| $m | ${PER_REQ[$m]} | ${IDLE_PER_S[$m]} | ${WALL[$m]} |"
done
echo
awk -v a="${PER_REQ[on]}" -v b="${PER_REQ[off]}" 'BEGIN {
    cost = a / b - 1
    printf "instruction cost of the edge pipeline: %+.1f%% (%d more instructions per request); target < 10%%: %s\n", 100 * cost, a - b, (cost < 0.10 ? "met" : "MISSED") }'
