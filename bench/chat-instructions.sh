#!/usr/bin/env bash
# Chat completions counted in instructions, for an A/B of two binaries whatever the machine is
# doing: each server runs under valgrind's callgrind with bench-tools' fake-upstream as model
# "fake" (as chat-load.sh sets it up), and answers REQUESTS sequential
# `POST /v1/chat/completions` (API key) on one connection, non-streaming and then streaming
# (20 content chunks), after WARMUP of each; idle timers measured over IDLE seconds and
# subtracted. Prints instructions per request for each binary and B's change over A.
#
#   bash bench/chat-instructions.sh OLD/rampart NEW/rampart
#
# Settings (environment): REQUESTS=1000 WARMUP=100 IDLE=5 BENCH_TOOLS_DIR SKIP_BUILD
#   BUILD_TIMEOUT=3600 STARTUP_TIMEOUT=180 KEEP_TMP (keeps the callgrind files)
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 <binary A> <binary B>" >&2; exit 2; }
REQUESTS="${REQUESTS:-1000}"
WARMUP="${WARMUP:-100}"
IDLE="${IDLE:-5}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-180}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[chat-instructions] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v valgrind >/dev/null || die "valgrind is required"
command -v callgrind_control >/dev/null || die "callgrind_control is required (it comes with valgrind)"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers REQUESTS WARMUP IDLE
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=callgrind-lib.sh
source "$REPO_ROOT/bench/callgrind-lib.sh"
bench_tmp chat-instr
resolve_tools fake-upstream
start_upstream --chunk-delay-ms 0

# requests N STREAM(true|false): N sequential requests on one connection; prints how many got 200.
requests() {
    local cfg="$TMP/curl-$2.cfg" i
    # Each request its own option group (`next`): curl joins repeated `data` of one group.
    for ((i = 0; i < $1; i++)); do
        ((i > 0)) && echo 'next'
        echo "header = \"authorization: Bearer $API_KEY\""
        echo 'header = "content-type: application/json"'
        echo 'write-out = "%{http_code}\n"'
        echo "url = \"$BASE/v1/chat/completions\""
        echo "data = \"{\\\"model\\\":\\\"fake\\\",\\\"stream\\\":$2,\\\"messages\\\":[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"Say hello.\\\"}]}\""
        echo 'output = "/dev/null"'
    done >"$cfg"
    curl -s -K "$cfg" | grep -c '^200$' || true
}

declare -A PER_REQ IDLE_PER_S
measure() { # label binary
    local label=$1 busy idle wall ok kind stream t0
    BIN="$2"
    export RAMPART_DATA_DIR="$TMP/data-$label"
    mkdir -p -m 700 "$RAMPART_DATA_DIR"
    unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
    fake_model_config "$TMP/rampart-$label.toml" fake
    export RAMPART_CONFIG="$TMP/rampart-$label.toml"
    bench_user "bench-$label@example.com"
    log "$label: $BIN under callgrind"
    start_rampart valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$label.out" --dump-instr=no --dump-line=no
    for kind in completion stream; do
        stream=false
        [[ $kind == stream ]] && stream=true
        ok="$(requests "$WARMUP" "$stream")"
        ((ok == WARMUP)) || die "$label warm-up ($kind): $ok of $WARMUP answered 200"
        callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1
        t0=$SECONDS
        ok="$(requests "$REQUESTS" "$stream")"
        wall=$((SECONDS - t0))
        ((ok == REQUESTS)) || die "$label ($kind): $ok of $REQUESTS answered 200"
        busy="$(total "$(dump "$label" "$kind")")"
        PER_REQ[$label-$kind]="$busy $wall"
    done
    callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1
    sleep "$IDLE"
    idle="$(total "$(dump "$label" idle)")"
    stop_pid "$SERVER_PID" 60
    SERVER_PID=""
    IDLE_PER_S[$label]="$(awk -v i="$idle" -v s="$IDLE" 'BEGIN { printf "%.0f", i / s }')"
    for kind in completion stream; do
        read -r busy wall <<<"${PER_REQ[$label-$kind]}"
        PER_REQ[$label-$kind]="$(awk -v b="$busy" -v i="${IDLE_PER_S[$label]}" -v w="$wall" -v n="$REQUESTS" \
            'BEGIN { printf "%.0f", (b - i * w) / n }')"
    done
    log "$label: ${PER_REQ[$label-completion]} / ${PER_REQ[$label-stream]} instructions per request; idle ${IDLE_PER_S[$label]}/s"
}

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
measure A "$(realpath "$1")"
measure B "$(realpath "$2")"

echo "### chat-instructions $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load average at start: $LOAD0 (instruction counts do not depend on it); $(valgrind --version)"
echo "- A: $1; B: $2; SQLite, log filter ${RAMPART_LOG:-default (info)}; upstream: $TOOLS/fake-upstream (20 content chunks)"
echo "- request: POST /v1/chat/completions (API key), $REQUESTS sequential requests on one connection after $WARMUP warm-up requests, non-streaming then streaming; idle timers subtracted"
echo
echo "| binary | instructions per completion | per streamed completion | idle instructions/s |"
echo "|---|---:|---:|---:|"
for l in A B; do
    echo "| $l | ${PER_REQ[$l-completion]} | ${PER_REQ[$l-stream]} | ${IDLE_PER_S[$l]} |"
done
echo
for kind in completion stream; do
    awk -v a="${PER_REQ[A-$kind]}" -v b="${PER_REQ[B-$kind]}" -v k="$kind" \
        'BEGIN { printf "B over A, %s: %+.1f%% (%+d instructions per request)\n", k, 100 * (b / a - 1), b - a }'
done
