#!/usr/bin/env bash
# Many concurrent chat streams over the AppSync-Events WebSocket (/event/realtime).
#
# Starts bench-tools' fake-upstream with a small delay per streamed chunk (so that streams
# overlap), then `rampart serve` with it as the `default` assistant's model (throw-away data
# dir), creates USERS users offline (`rampart user add`), signs each in (`POST /v1/auth/login`)
# or gives each an API key (`rampart apikey create`), and runs ws-load: CONNS WebSocket
# connections, each subscribing to its own new session and publishing one message, all at
# once; every stream must end with `end`. Samples the server's VmRSS and open file
# descriptors while it runs and prints a markdown report. Temporary directory as the other
# scripts (KEEP_TMP=1 keeps it).
#
# Settings (environment):
#   CONNS=1000  PER_USER=8 (connections per user; the server allows 8 replies in progress per user)
#   USERS=ceil(CONNS/PER_USER)  CRED=token|apikey (default token: JWT access tokens from login)
#   CHUNK_DELAY_MS=5 (fake-upstream, before each of the 20 content chunks)
#   CONNECT_PARALLEL=64 (handshakes at once)  WS_TIMEOUT=120 (seconds per step and per stream)
#   PAUSE_MS=1000 (all connections open and idle this long before publishing)
#   SAMPLE_INTERVAL=0.2 (seconds between VmRSS / fd samples)
#   BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30, BENCH_LOG, KEEP_TMP
#   Any other RAMPART_* variable reaches the server as configuration (e.g. raised limits).
set -euo pipefail

CONNS="${CONNS:-1000}"
PER_USER="${PER_USER:-8}"
CRED="${CRED:-token}"
CHUNK_DELAY_MS="${CHUNK_DELAY_MS:-5}"
CONNECT_PARALLEL="${CONNECT_PARALLEL:-64}"
WS_TIMEOUT="${WS_TIMEOUT:-120}"
PAUSE_MS="${PAUSE_MS:-1000}"
SAMPLE_INTERVAL="${SAMPLE_INTERVAL:-0.2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[ws-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

((CONNS > 0 && PER_USER > 0)) || die "CONNS and PER_USER must be > 0"
USERS="${USERS:-$(((CONNS + PER_USER - 1) / PER_USER))}"
[[ "$USERS" =~ ^[0-9]+$ ]] && ((USERS > 0)) || die "USERS must be a whole number > 0"
[[ "$CRED" == token || "$CRED" == apikey ]] || die "CRED must be token or apikey"
command -v curl >/dev/null || die "curl is required"
command -v jq >/dev/null || die "jq is required"

# Both ends hold CONNS sockets: raise the open-file limit as far as the hard limit allows.
need=$((CONNS + 256))
if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < need)); then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < need)); then
        die "open-file limit $(ulimit -n) < $need and the hard limit does not allow more; lower CONNS"
    fi
fi

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers CONNS PER_USER CONNECT_PARALLEL WS_TIMEOUT PAUSE_MS BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
SAMPLER_PID=""
cleanup_extra() {
    if [[ -n "$SAMPLER_PID" ]]; then stop_pid "$SAMPLER_PID" 2; fi
}
bench_tmp bench

resolve_binary
resolve_tools
start_upstream --chunk-delay-ms "$CHUNK_DELAY_MS"
log "fake upstream at $UPSTREAM_URL (chunk delay ${CHUNK_DELAY_MS} ms)"

export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
# Realtime chat answers with the assistant `default`.
fake_model_config "$TMP/rampart.toml" default
export RAMPART_CONFIG="$TMP/rampart.toml"
# More than 8 connections per user exceed the server's default per-user limits (8 replies in
# progress, a publish burst of 20, 32 connections): raise them where the binary has them
# (`[realtime]`, since 04ca02c), unless the environment already sets them.
if ((PER_USER > 8)) && "$BIN" config example 2>/dev/null | grep -q 'max_replies_per_user'; then
    export RAMPART_REALTIME__MAX_REPLIES_PER_USER="${RAMPART_REALTIME__MAX_REPLIES_PER_USER:-$PER_USER}"
    export RAMPART_REALTIME__PUBLISH_BURST="${RAMPART_REALTIME__PUBLISH_BURST:-$((PER_USER > 20 ? PER_USER : 20))}"
    export RAMPART_REALTIME__MAX_CONNECTIONS_PER_USER="${RAMPART_REALTIME__MAX_CONNECTIONS_PER_USER:-$((PER_USER > 32 ? PER_USER : 32))}"
fi

# --- users (offline) ---------------------------------------------------------------------
PASSWORD="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
log "creating $USERS users$([[ $CRED == apikey ]] && echo ' and API keys') offline"
t_users=$SECONDS
: >"$TMP/users"
for ((i = 1; i <= USERS; i++)); do
    email="ws$i@example.com"
    uid="$(printf '%s\n' "$PASSWORD" | timeout 60 "$BIN" user add --email "$email" --password-stdin 2>>"$TMP/cli.log")" \
        || { tail -n 5 "$TMP/cli.log" >&2; die "rampart user add $email failed"; }
    [[ "$uid" =~ ^[0-9a-f-]{36}$ ]] || die "rampart user add printed '$uid', expected a user id"
    secret=""
    if [[ "$CRED" == apikey ]]; then
        secret="$(timeout 60 "$BIN" apikey create --email "$email" --name ws-load 2>>"$TMP/cli.log")" \
            || { tail -n 5 "$TMP/cli.log" >&2; die "rampart apikey create $email failed"; }
    fi
    printf '%s %s %s\n' "$uid" "$email" "$secret" >>"$TMP/users"
done
log "users created in $((SECONDS - t_users)) s"

start_rampart

# --- credentials file for ws-load: <userId> <bearer|apikey> <secret> ----------------------
: >"$TMP/creds"
chmod 600 "$TMP/creds"
while read -r uid email secret; do
    if [[ "$CRED" == token ]]; then
        body="$(jq -cn --arg u "$email" --arg p "$PASSWORD" '{username: $u, password: $p}')"
        secret="$(curl -s --max-time 30 -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' -d "$body" \
            | jq -r '.accessToken // empty')"
        [[ -n "$secret" ]] || die "login of $email gave no accessToken"
        printf '%s bearer %s\n' "$uid" "$secret" >>"$TMP/creds"
    else
        printf '%s apikey %s\n' "$uid" "$secret" >>"$TMP/creds"
    fi
done <"$TMP/users"

# --- the run, with the server sampled ------------------------------------------------------
fds() { find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
MEM_IDLE="$(mem_kib "$SERVER_PID")"
FDS_IDLE="$(fds)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
# One line per sample: VmRSS VmHWM fds phase (0 connecting, 1 all connected and idle,
# 2 streaming, 3 all ended and closing; from ws-load's WS_PHASE lines).
sample() {
    local phase
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        phase="$(grep -c '^WS_PHASE ' "$TMP/ws.out" 2>/dev/null || true)"
        echo "$(mem_kib "$SERVER_PID") $(fds) ${phase:-0}"
        sleep "$SAMPLE_INTERVAL"
    done
}
: >"$TMP/ws.out"
sample >"$TMP/samples" &
SAMPLER_PID=$!
T0="$(ticks "$SERVER_PID")"
log "ws-load: $CONNS connections over $USERS users ($CRED), publishing at once"
wl_rc=0
run_bg timeout $((WS_TIMEOUT * 4 + 60)) "$TOOLS/ws-load" --base "$BASE" --creds "$TMP/creds" --conns "$CONNS" \
    --connect-parallel "$CONNECT_PARALLEL" --timeout "$WS_TIMEOUT" --pause-ms "$PAUSE_MS" >"$TMP/ws.out" 2>"$TMP/ws.err" || wl_rc=$?
CPU_TICKS=$(($(ticks "$SERVER_PID") - T0))
MEM_END="$(mem_kib "$SERVER_PID")"
stop_pid "$SAMPLER_PID" 2
SAMPLER_PID=""
((wl_rc == 0)) || { cat "$TMP/ws.err" >&2; die "ws-load failed (exit $wl_rc)"; }
result="$(awk '$1 == "WS_RESULT" { $1 = ""; print substr($0, 2) }' "$TMP/ws.out")"
[[ -n "$result" ]] || { cat "$TMP/ws.out" "$TMP/ws.err" >&2; die "no result from ws-load"; }
declare -A R
for kv in $result; do R[${kv%%=*}]="${kv#*=}"; done
read -r peak_rss peak_fds <<<"$(awk '{ if ($1 > r) r = $1; if ($3 > f) f = $3 } END { print r + 0, f + 0 }' "$TMP/samples")"
# The last sample with every connection open and idle (phase 1), if the pause was sampled.
read -r open_rss open_fds <<<"$(awk '$4 == 1 { r = $1; f = $3 } END { print r + 0, f + 0 }' "$TMP/samples")"
read -r end_rss end_hwm <<<"$MEM_END"
read -r idle_rss _ <<<"$MEM_IDLE"
limit_errors="$(grep -c '^WS_ERROR .*\(Limit\|TooMany\|Rate\)' "$TMP/ws.out" || true)"

# --- report ------------------------------------------------------------------------------
rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## ws-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); ws-load, upstream and server on the same host; load average at start: $LOAD_AT_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $rev), SQLite in a fresh data dir, log filter ${RAMPART_LOG:-default (info)}; configuration from the environment: $(config_env)"
echo "- upstream: fake-upstream, 20 content chunks of ${CHUNK_DELAY_MS} ms each per reply"
echo "- $CONNS connections over ${R[users]} users ($CRED credentials), $CONNECT_PARALLEL handshakes at once; open-file limit $(ulimit -n)"
echo
echo "| measure | value |"
echo "|---|---:|"
echo "| connections ready (init, ack, subscribe) | ${R[connected]} / $CONNS in ${R[connect_s]} s |"
echo "| streams ended with \`end\` | ${R[ok]} / $CONNS |"
echo "| failed | ${R[failed]} |"
echo "| publish → last \`end\` (all streams) | ${R[all_ends_s]} s |"
echo "| stream duration (publish → end) p50 / p99 / max | ${R[end_p50_ms]} / ${R[end_p99_ms]} / ${R[end_max_ms]} ms |"
echo "| publish → first textDelta p50 / p99 | ${R[first_p50_ms]} / ${R[first_p99_ms]} ms |"
echo "| publish → publish_success p50 / p99 | ${R[ack_p50_ms]} / ${R[ack_p99_ms]} ms |"
echo "| textDelta frames per stream (min / max) | ${R[deltas_min]} / ${R[deltas_max]} |"
echo "| server VmRSS idle before / all connected, before publishing / peak sampled / after | $(mib "$idle_rss") / $(mib "$open_rss") / $(mib "$peak_rss") / $(mib "$end_rss") MiB |"
echo "| server VmHWM (peak) | $(mib "$end_hwm") MiB |"
echo "| server open fds idle / all connected / peak sampled | $FDS_IDLE / $open_fds / $peak_fds |"
awk -v k="$CPU_TICKS" -v hz="$CLK_TCK" -v n="$CONNS" 'BEGIN { printf "| server CPU during the run | %.2f s (%.0f µs per stream) |\n", k / hz, k / hz * 1e6 / n }'
echo
if grep -q '^WS_ERROR ' "$TMP/ws.out"; then
    echo "Errors by kind (count, first example):"
    echo
    awk '$1 == "WS_ERROR" { $1 = "-"; print }' "$TMP/ws.out"
    echo
fi
if ((limit_errors > 0)); then echo "WARNING: the server's per-user limits refused some operations (see the errors above)"; fi
v=MISSED
if [[ "${R[ok]}" == "$CONNS" && "${R[failed]}" == 0 ]]; then v=met; fi
echo "$CONNS concurrent WebSocket chat streams without errors: $v (${R[ok]} ended, ${R[failed]} failed); server VmHWM $(mib "$end_hwm") MiB"
