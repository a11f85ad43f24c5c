#!/usr/bin/env bash
# Start-up time and idle memory of the release binary on an empty data dir.
#
# Each run: a fresh empty data dir and a random free port on 127.0.0.1; the clock starts
# just before `rampart serve` is launched and stops when GET /readyz first answers 200
# (polled every 10 ms with curl). Then the server sits idle for IDLE_SECS and VmRSS is read
# from /proc/<pid>/status. The server is stopped (SIGTERM) before the next run.
# Prints one line per run, the medians, and a markdown table.
#
# Settings (environment):
#   RUNS=3  IDLE_SECS=3  POLL_INTERVAL=0.01  STARTUP_TIMEOUT=30 (seconds)
#   BENCH_BIN=path   use this binary, do not build       SKIP_BUILD=1  use target/release/rampart as is
#   BUILD_TIMEOUT=3600
set -euo pipefail

RUNS="${RUNS:-3}"
IDLE_SECS="${IDLE_SECS:-3}"
POLL_INTERVAL="${POLL_INTERVAL:-0.01}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[idle-rss] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

((RUNS > 0)) || die "RUNS must be at least 1"
command -v curl >/dev/null || die "curl is required"
[[ -r /proc/self/status ]] || die "/proc is required (Linux)"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers RUNS IDLE_SECS STARTUP_TIMEOUT BUILD_TIMEOUT
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then stop_pid "$SERVER_PID" 25; fi
    SERVER_PID=""
}
bench_tmp idle


resolve_binary

unset RAMPART_CONFIG RAMPART_DATABASE_URL RAMPART_PUBLIC_URL RAMPART_MASTER_KEY_FILE

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
    done
    return 1
}
now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

READY_MS=()
RSS_MIB=()
for ((i = 1; i <= RUNS; i++)); do
    data="$TMP/data-$i"
    mkdir -p -m 700 "$data"
    port="$(free_port)" || die "no free port found"
    url="http://127.0.0.1:$port/readyz"

    t0="$(now_ns)"
    RAMPART_DATA_DIR="$data" RAMPART_LISTEN="127.0.0.1:$port" "$BIN" serve >"$TMP/server-$i.log" 2>&1 &
    SERVER_PID=$!
    deadline_ns=$((t0 + STARTUP_TIMEOUT * 1000000000))
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)"
        t1="$(now_ns)"
        [[ "$code" == 200 ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$TMP/server-$i.log" >&2; die "server exited during start-up"; }
        ((t1 < deadline_ns)) || die "not ready after ${STARTUP_TIMEOUT}s"
        sleep "$POLL_INTERVAL"
    done
    ready_ms=$(((t1 - t0) / 1000000))

    sleep "$IDLE_SECS"
    rss_kib="$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")"
    [[ -n "$rss_kib" ]] || die "no VmRSS for pid $SERVER_PID"
    rss_mib="$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')"
    stop_server

    READY_MS+=("$ready_ms")
    RSS_MIB+=("$rss_mib")
    printf 'run %d: ready in %d ms, idle VmRSS %s MiB (%d KiB) after %ss\n' "$i" "$ready_ms" "$rss_mib" "$rss_kib" "$IDLE_SECS"
done

med_ready="$(printf '%s\n' "${READY_MS[@]}" | median)"
med_rss="$(printf '%s\n' "${RSS_MIB[@]}" | median)"
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v < lim ? "met" : "MISSED") }'; }
echo "median: ready in $med_ready ms (target < 1000 ms: $(verdict "$med_ready" 1000)), idle VmRSS $med_rss MiB (target < 50 MiB: $(verdict "$med_rss" 50))"

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## idle-rss $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; load average at end: $load"
echo "- rampart: $BIN (git $rev), empty data dir each run (SQLite), readiness polled every ${POLL_INTERVAL}s, VmRSS after ${IDLE_SECS}s idle"
echo
echo "| run | ready ms | idle VmRSS MiB |"
echo "|---|---:|---:|"
for ((i = 0; i < RUNS; i++)); do
    echo "| $((i + 1)) | ${READY_MS[$i]} | ${RSS_MIB[$i]} |"
done
echo "| median | $med_ready | $med_rss |"
