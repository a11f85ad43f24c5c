#!/usr/bin/env bash
# The cost of the edge pipeline: the identity issue's authenticated route (GET /v1/me with an
# API key, plus a query string and a User-Agent for the WAF to read) with every edge rule on,
# against the same route with the edge rules off, in alternating rounds of one run.
#
# "On": WAF in block mode, an IP allow-list and deny-list that 127.0.0.1 must be checked
# against, the per-address rate rule evaluated for loopback (limit far above the load), the
# sign-in rule, X-Origin-Verify required (wrk sends it), CORS with one origin, API-key
# throttling evaluated (limit far above the load). "Off": waf_mode = off, no lists, no rate
# rules, no origin header, no CORS (the API-key bucket is still taken: it cannot be turned off).
#
# Settings (environment): CONNECTIONS=64 THREADS=2 DURATION=15 ROUNDS=2 WARMUP=2
#   BENCH_BIN, SKIP_BUILD, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30, KEEP_TMP
set -euo pipefail

CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-15}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[edge-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v curl >/dev/null || die "curl is required"
command -v wrk >/dev/null || die "wrk is required (bench/auth-load.sh installs it)"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers CONNECTIONS THREADS DURATION ROUNDS WARMUP
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=edge-lib.sh
source "$REPO_ROOT/bench/edge-lib.sh"
bench_tmp edge

resolve_binary
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_CONFIG RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
bench_user bench@example.com

cat >"$TMP/bench.lua" <<'LUA'
wrk.headers["x-api-key"] = os.getenv("BENCH_KEY")
wrk.headers["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
wrk.headers["referer"] = "https://app.example.com/chat"
local origin = os.getenv("BENCH_ORIGIN")
if origin ~= nil and origin ~= "" then wrk.headers["x-origin-verify"] = origin end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %.0f %.0f %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
server_ticks() { sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'; }

declare -A REQ US BAD TICKS P99
for m in on off; do REQ[$m]=0; US[$m]=0; BAD[$m]=0; TICKS[$m]=0; P99[$m]=0; done
ROWS=()
measure() { # mode seconds record(0|1) round
    local mode=$1 secs=$2 origin=""
    [[ "$mode" == on ]] && origin="$ORIGIN_SECRET"
    start_with "$mode"
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $API_KEY" -H "x-origin-verify: $ORIGIN_SECRET" "$BASE$PATH_Q")"
    [[ "$code" == 200 ]] || die "GET $PATH_Q answered $code with the edge $mode"
    if [[ "$mode" == on ]]; then
        code="$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $API_KEY" "$BASE$PATH_Q")"
        [[ "$code" == 403 ]] || die "the edge is not on: a request without X-Origin-Verify answered $code"
    fi
    local t0
    t0="$(server_ticks)"
    BENCH_KEY="$API_KEY" BENCH_ORIGIN="$origin" run_bg timeout $((secs + 30)) \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 10s -s "$TMP/bench.lua" "$BASE$PATH_Q" >"$TMP/wrk.out" || die "wrk failed"
    local ticks=$(($(server_ticks) - t0))
    stop_pid "$SERVER_PID" 25
    SERVER_PID=""
    [[ "$3" == 1 ]] || return 0
    read -r req us p50 p99 non2xx sockerr < <(awk '$1 == "BENCH_RESULT" { print $2, $3, $4, $5, $6, $7 }' "$TMP/wrk.out")
    REQ[$mode]=$((REQ[$mode] + req)); US[$mode]=$((US[$mode] + us)); BAD[$mode]=$((BAD[$mode] + non2xx + sockerr))
    TICKS[$mode]=$((TICKS[$mode] + ticks)); if ((p99 > P99[$mode])); then P99[$mode]=$p99; fi
    ROWS+=("$(awk -v m="$mode" -v r="$4" -v q="$req" -v us="$us" -v a="$p50" -v b="$p99" -v n="$((non2xx + sockerr))" -v k="$ticks" -v hz="$CLK_TCK" \
        'BEGIN { printf "| edge %s | %d | %.0f | %.2f | %.2f | %d | %.1f |", m, r, q / (us / 1e6), a / 1000, b / 1000, n, k / hz * 1e6 / q }')")
}

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
if ((WARMUP > 0)); then measure on "$WARMUP" 0 0; measure off "$WARMUP" 0 0; fi
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2 == 1)); then order=(on off); else order=(off on); fi
    for m in "${order[@]}"; do
        log "round $r/$ROUNDS: edge $m, ${DURATION}s"
        measure "$m" "$DURATION" 1 "$r"
    done
done

rps() { awk -v q="${REQ[$1]}" -v us="${US[$1]}" 'BEGIN { printf "%.0f", q / (us / 1e6) }'; }
echo "### edge-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), SQLite, log filter ${RAMPART_LOG:-default (info)}"
echo "- request: GET $PATH_Q with x-api-key, a browser User-Agent and Referer; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS round(s) alternating"
echo
echo "| target | round | req/s | p50 ms | p99 ms | errors | server CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
on="$(rps on)"; off="$(rps off)"
awk -v a="$on" -v b="$off" -v ta="${TICKS[on]}" -v tb="${TICKS[off]}" -v qa="${REQ[on]}" -v qb="${REQ[off]}" -v hz="$CLK_TCK" 'BEGIN {
    cost = 1 - a / b
    printf "edge on: %d req/s, %.1f µs CPU/req; edge off: %d req/s, %.1f µs CPU/req\n", a, ta / hz * 1e6 / qa, b, tb / hz * 1e6 / qb
    printf "throughput cost of the edge pipeline: %.1f%% target < 10%%: %s\n", 100 * cost, (cost < 0.10 ? "met" : "MISSED") }'
for m in on off; do
    if ((BAD[$m] > 0)); then echo "WARNING: edge $m had ${BAD[$m]} non-2xx responses or socket errors"; fi
done
