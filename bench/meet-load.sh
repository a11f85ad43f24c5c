#!/usr/bin/env bash
# Live meetings at once through Rampart's audio WebSocket, with the pass-through recogniser: the
# meeting pipeline alone (decode, resample, recognise, store, publish, deliver), as issue 15's
# targets ask. Starts `rampart serve` (speech.engine = "passthrough"), creates users offline,
# signs them in, runs bench-tools' meet-load: MEETINGS meetings of SECS seconds of two-channel
# 16 kHz audio streamed at real-time pace, each followed on its realtime channel; samples the
# server's memory. Prints a markdown report.
#
# Settings (environment): MEETINGS=200 SECS=30 PER_USER=4 INTERVAL=1 (passthrough_interval, s)
#   SAMPLE_INTERVAL=0.5  BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30,
#   BENCH_LOG, KEEP_TMP. Any other RAMPART_* variable reaches the server as configuration.
set -euo pipefail

MEETINGS="${MEETINGS:-200}"
SECS="${SECS:-30}"
PER_USER="${PER_USER:-4}"
INTERVAL="${INTERVAL:-1}"
SAMPLE_INTERVAL="${SAMPLE_INTERVAL:-0.5}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[meet-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v curl >/dev/null || die "curl is required"
command -v jq >/dev/null || die "jq is required"
need=$((MEETINGS * 3 + 256))
if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < need)); then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MEETINGS SECS PER_USER BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=meet-lib.sh
source "$REPO_ROOT/bench/meet-lib.sh"
bench_tmp bench
resolve_binary
resolve_tools meet-load

USERS=$(((MEETINGS + PER_USER - 1) / PER_USER))
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL RAMPART_CONFIG
export RAMPART_SPEECH__ENGINE=passthrough RAMPART_SPEECH__PASSTHROUGH_INTERVAL="${INTERVAL}s"
export RAMPART_MEETINGS__MAX_LIVE_PER_USER="${RAMPART_MEETINGS__MAX_LIVE_PER_USER:-$PER_USER}"
export RAMPART_MEETINGS__MAX_LIVE="${RAMPART_MEETINGS__MAX_LIVE:-$((MEETINGS + 10))}"
export RAMPART_REALTIME__MAX_CONNECTIONS_PER_USER="${RAMPART_REALTIME__MAX_CONNECTIONS_PER_USER:-$((PER_USER * 2 + 8))}"

meet_users "$USERS"
start_rampart
meet_logins

MEM_IDLE="$(mem_kib "$SERVER_PID")"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
meet_sampler "$TMP/samples"
T0="$(ticks "$SERVER_PID")"
log "meet-load: $MEETINGS meetings of $SECS s over $USERS users"
rc=0
run_bg timeout $((SECS * 4 + 300)) "$TOOLS/meet-load" --base "$BASE" --creds "$TMP/creds" --meetings "$MEETINGS" \
    --secs "$SECS" --interval "$INTERVAL" >"$TMP/meet.out" 2>"$TMP/meet.err" || rc=$?
CPU_TICKS=$(($(ticks "$SERVER_PID") - T0))
MEM_END="$(mem_kib "$SERVER_PID")"
cleanup_extra
((rc == 0)) || { cat "$TMP/meet.out" "$TMP/meet.err" >&2; die "meet-load failed (exit $rc)"; }
declare -A R
meet_result "$TMP/meet.out" || { cat "$TMP/meet.out" "$TMP/meet.err" >&2; die "no result from meet-load"; }
peak_rss="$(awk '{ if ($1 > r) r = $1 } END { print r + 0 }' "$TMP/samples")"
read -r end_rss end_hwm <<<"$MEM_END"
read -r idle_rss _ <<<"$MEM_IDLE"

rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## meet-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); meet-load and server on the same host; load average at start: $LOAD_AT_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $rev), SQLite in a fresh data dir, pass-through recogniser (one utterance per ${INTERVAL} s); configuration from the environment: $(config_env)"
echo "- $MEETINGS meetings of $SECS s of two-channel 16 kHz audio at real-time pace (100 ms frames) over $USERS users, each followed on its realtime channel"
echo
echo "| measure | value |"
echo "|---|---:|"
echo "| meetings ended / failed | $((R[meetings] - R[failed])) / ${R[failed]} |"
echo "| final segments expected / received live / stored | ${R[expected]} / ${R[received]} / ${R[stored]} |"
echo "| added latency, frame sent → final at the subscriber p50 / p99 / max | ${R[p50_ms]} / ${R[p99_ms]} / ${R[max_ms]} ms |"
echo "| server VmRSS idle / peak sampled / after | $(mib "$idle_rss") / $(mib "$peak_rss") / $(mib "$end_rss") MiB |"
# Flat memory over a long meeting: the samples at each quarter of the run.
awk '{ r[NR] = $1 } END { printf "| server VmRSS at 1/4, 1/2, 3/4 of the run and its end | %.1f / %.1f / %.1f / %.1f MiB |\n",
    r[int(NR / 4) + 1] / 1024, r[int(NR / 2) + 1] / 1024, r[int(3 * NR / 4) + 1] / 1024, r[NR] / 1024 }' "$TMP/samples"
awk -v p="$peak_rss" -v i="$idle_rss" -v n="$MEETINGS" 'BEGIN { printf "| memory per live meeting (peak − idle) / meetings | %.0f KiB |\n", (p - i) / n }'
echo "| server VmHWM | $(mib "$end_hwm") MiB |"
awk -v k="$CPU_TICKS" -v hz="$CLK_TCK" -v n="$MEETINGS" -v s="$SECS" 'BEGIN { printf "| server CPU during the run | %.2f s (%.2f%% of one core per live meeting) |\n", k / hz, k / hz / s / n * 100 }'
echo
lost=$((R[expected] - R[stored]))
verdict=met
{ ((R[failed] > 0)) || ((lost != 0)) || ((MEETINGS < 200)); } && verdict=MISSED
echo "$MEETINGS concurrent live two-channel meetings with the pass-through recogniser, no segment lost: $verdict (target >= 200)"
awk -v p="${R[p99_ms]}" 'BEGIN { printf "added latency p99 %.1f ms: %s (target < 20 ms)\n", p, (p < 20 ? "met" : "MISSED") }'
