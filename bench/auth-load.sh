#!/usr/bin/env bash
# Throughput and latency of an authenticated route against the health route.
#
# Builds the release binary, starts `rampart serve` on a throw-away data dir on
# 127.0.0.1 (random free port), creates a user and an API key offline, signs in,
# then measures with wrk, at the same concurrency and duration each:
#
#   healthz      GET /healthz                                  (no auth, no database)
#   me-bearer    GET /v1/me   Authorization: Bearer <access token>
#   me-apikey    GET /v1/me   x-api-key: <api key>
#
# Targets run in rounds; the order alternates between rounds (A B C, then C B A)
# so that neither route always gets the warmer or cooler machine.
# Prints markdown tables and the me/healthz throughput ratios. Writes nothing
# outside its temporary directory, which it removes on exit (KEEP_TMP=1 keeps it).
#
# Settings (environment):
#   CONNECTIONS=64  THREADS=2  DURATION=15 (seconds per run)  ROUNDS=2  WARMUP=2 (seconds, per target)
#   BENCH_BIN=path   use this binary, do not build       SKIP_BUILD=1  use target/release/rampart as is
#   BUILD_TIMEOUT=3600  STARTUP_TIMEOUT=30 (seconds)
#   BENCH_LOG=<tracing filter>  sets RAMPART_LOG for the server (default: the server's own, "info")
#   RAMPART_AUTH__ARGON2__{MEMORY_KIB,ITERATIONS,PARALLELISM}=19456,2,1 (the default cost; passed through)
#   Any other RAMPART_* variable reaches the server as configuration. One token and one key are
#   reused by every connection, so /v1/me is served by the authentication cache (default 5 s);
#   RAMPART_AUTH__SESSION_CACHE_TTL=0s measures the full verification path instead.
set -euo pipefail

CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-15}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
# The Argon2id cost is pinned to the documented defaults so results compare across config
# changes. All three keys are set explicitly (builds before a27950c refused a partial auth.argon2).
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi

BENCH_EMAIL="bench@example.com"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[auth-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

((DURATION > 0 && ROUNDS > 0 && CONNECTIONS >= THREADS && THREADS > 0)) || die "bad DURATION/ROUNDS/CONNECTIONS/THREADS"
command -v curl >/dev/null || die "curl is required"

# --- load tool -------------------------------------------------------------------------
# wrk comes from Debian in seconds; oha would need `cargo install`, a multi-minute compile
# on a small machine. Either is fine for this; the script uses wrk for its Lua hooks.
as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi
}
if ! command -v wrk >/dev/null; then
    command -v apt-get >/dev/null || die "wrk is missing and apt-get is not available; install wrk"
    log "installing wrk (apt-get)"
    if ! as_root timeout 300 apt-get install -y wrk >/dev/null; then
        as_root timeout 300 apt-get update >/dev/null
        as_root timeout 300 apt-get install -y wrk >/dev/null
    fi
fi
command -v wrk >/dev/null || die "wrk is still missing"

# --- temporary state and clean-up ------------------------------------------------------
# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers CONNECTIONS THREADS DURATION ROUNDS WARMUP BUILD_TIMEOUT STARTUP_TIMEOUT
bench_tmp bench


# --- binary ----------------------------------------------------------------------------
resolve_binary

export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_CONFIG RAMPART_DATABASE_URL RAMPART_PUBLIC_URL

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
    done
    return 1
}
PORT="$(free_port)" || die "no free port found"
ADDR="127.0.0.1:$PORT"
BASE="http://$ADDR"

# --- user and API key (offline, before the server opens the database) ---------------------
bench_user "$BENCH_EMAIL"

# --- server ----------------------------------------------------------------------------
log "starting $BIN serve on $ADDR"
RAMPART_LISTEN="$ADDR" "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
deadline=$((SECONDS + STARTUP_TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/readyz" || true)" == 200 ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$TMP/server.log" >&2; die "server exited during start-up"; }
    ((SECONDS < deadline)) || die "server not ready after ${STARTUP_TIMEOUT}s"
    sleep 0.05
done

login() {
    local body token
    body="$(jq -cn --arg u "$BENCH_EMAIL" --arg p "$PASSWORD" '{username: $u, password: $p}' 2>/dev/null \
        || printf '{"username":"%s","password":"%s"}' "$BENCH_EMAIL" "$PASSWORD")"
    body="$(curl -s --max-time 10 -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' -d "$body")" \
        || die "login request failed"
    if command -v jq >/dev/null; then
        token="$(jq -r '.accessToken // empty' <<<"$body")"
    else
        token="$(sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p' <<<"$body")"
    fi
    [[ -n "$token" ]] || die "login answered no accessToken: $body"
    printf '%s' "$token"
}
ACCESS_TOKEN="$(login)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

# Refuse to measure anything that does not answer 200.
check_200() { # path header
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "$2" "$BASE$1")"
    [[ "$code" == 200 ]] || die "GET $1 answered $code, expected 200"
}
check_200 /healthz "x-bench: 1"
check_200 /v1/me "Authorization: Bearer $ACCESS_TOKEN"
check_200 /v1/me "x-api-key: $API_KEY"

# --- wrk -------------------------------------------------------------------------------
# The credential reaches wrk through the environment (not argv); done() prints one line.
cat >"$TMP/bench.lua" <<'LUA'
local name = os.getenv("BENCH_HEADER_NAME")
local value = os.getenv("BENCH_HEADER_VALUE")
if name ~= nil and name ~= "" then
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %.0f %.0f %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

# run_wrk <seconds> <path> <header name> <header value>
#   -> "$TMP/result": requests duration_us p50_us p99_us non2xx sockerr
run_wrk() {
    BENCH_HEADER_NAME="$3" BENCH_HEADER_VALUE="$4" run_bg timeout $(($1 + 30)) \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1s" --timeout 10s -s "$TMP/bench.lua" "$BASE$2" >"$TMP/wrk.out" \
        || die "wrk failed on $2"
    awk '$1 == "BENCH_RESULT" { print $2, $3, $4, $5, $6, $7 }' "$TMP/wrk.out" >"$TMP/result"
    [[ -s "$TMP/result" ]] || die "no result from wrk on $2"
}

TARGETS=(healthz me-bearer me-apikey)
target_args() { # target -> path, header name, header value (one per line)
    case "$1" in
        healthz) printf '%s\n' /healthz "" "" ;;
        me-bearer) printf '%s\n' /v1/me Authorization "Bearer $ACCESS_TOKEN" ;;
        me-apikey) printf '%s\n' /v1/me x-api-key "$API_KEY" ;;
    esac
}
describe() {
    case "$1" in
        healthz) echo 'GET /healthz' ;;
        me-bearer) echo 'GET /v1/me (Bearer access token)' ;;
        me-apikey) echo 'GET /v1/me (x-api-key)' ;;
    esac
}

# CPU time the server process has used (user + system), in clock ticks.
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
server_ticks() { sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'; }

declare -A SUM_REQ SUM_US SUM_P50 MAX_P99 SUM_BAD SUM_TICKS
for t in "${TARGETS[@]}"; do SUM_REQ[$t]=0; SUM_US[$t]=0; SUM_P50[$t]=0; MAX_P99[$t]=0; SUM_BAD[$t]=0; SUM_TICKS[$t]=0; done

if ((WARMUP > 0)); then
    log "warming up ${WARMUP}s per target"
    for t in "${TARGETS[@]}"; do
        mapfile -t a < <(target_args "$t")
        run_wrk "$WARMUP" "${a[0]}" "${a[1]}" "${a[2]}"
    done
fi

ROWS=()
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2 == 1)); then order=("${TARGETS[@]}"); else order=(me-apikey me-bearer healthz); fi
    ACCESS_TOKEN="$(login)" # a fresh token each round keeps long runs inside its lifetime
    for t in "${order[@]}"; do
        log "round $r/$ROUNDS: $(describe "$t") for ${DURATION}s, $CONNECTIONS connections, $THREADS threads"
        mapfile -t a < <(target_args "$t")
        ticks0="$(server_ticks)"
        run_wrk "$DURATION" "${a[0]}" "${a[1]}" "${a[2]}"
        read -r req us p50 p99 non2xx sockerr <"$TMP/result"
        ticks=$(($(server_ticks) - ticks0))
        ROWS+=("$(awk -v t="$(describe "$t")" -v r="$r" -v q="$req" -v us="$us" -v a="$p50" -v b="$p99" -v n="$non2xx" -v s="$sockerr" \
            -v k="$ticks" -v hz="$CLK_TCK" \
            'BEGIN { cpu = k / hz * 1e6
                     printf "| %s | %d | %.0f | %.2f | %.2f | %d | %d | %d | %.0f%% | %.1f |", t, r, q / (us / 1e6), a / 1000, b / 1000, q, n, s,
                         100 * cpu / us, cpu / q }')")
        SUM_TICKS[$t]=$((SUM_TICKS[$t] + ticks))
        SUM_REQ[$t]=$((SUM_REQ[$t] + req))
        SUM_US[$t]=$((SUM_US[$t] + us))
        SUM_P50[$t]=$((SUM_P50[$t] + p50))
        if ((p99 > MAX_P99[$t])); then MAX_P99[$t]=$p99; fi
        SUM_BAD[$t]=$((SUM_BAD[$t] + non2xx + sockerr))
    done
done

rps() { awk -v q="${SUM_REQ[$1]}" -v us="${SUM_US[$1]}" 'BEGIN { printf "%.0f", q / (us / 1e6) }'; }

# --- report ----------------------------------------------------------------------------
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
# Configuration the server got from the environment (names that look secret are left out).
cfg_env="$(env | grep -E '^RAMPART_' | grep -Ev '^RAMPART_(DATA_DIR|LISTEN)=|KEY|SECRET|PASSWORD|TOKEN' | sort | paste -sd ' ' - || true)"
echo
echo "## auth-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; load generator on the same host; load average at start: $LOAD_AT_START, at end: $load"
echo "- rampart: $BIN (git $rev), SQLite in a fresh data dir, log filter ${RAMPART_LOG:-default (info)}"
echo "- configuration from the environment: ${cfg_env:-none}"
echo "- wrk: -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS round(s), order alternating, ${WARMUP}s warm-up per target"
echo
echo "### Runs"
echo
echo "| target | round | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors | server CPU (% of 1 core) | server CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "### Summary (req/s over all rounds; p50 mean of rounds; p99 worst round)"
echo
echo "| target | req/s | p50 ms | p99 ms | errors | server CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
    awk -v t="$(describe "$t")" -v q="$(rps "$t")" -v a="${SUM_P50[$t]}" -v n="$ROUNDS" -v b="${MAX_P99[$t]}" -v e="${SUM_BAD[$t]}" \
        -v k="${SUM_TICKS[$t]}" -v hz="$CLK_TCK" -v req="${SUM_REQ[$t]}" \
        'BEGIN { printf "| %s | %d | %.2f | %.2f | %d | %.1f |\n", t, q, a / n / 1000, b / 1000, e, k / hz * 1e6 / req }'
done
echo
status=0
for t in me-bearer me-apikey; do
    awk -v t="$(describe "$t")" -v m="$(rps "$t")" -v h="$(rps healthz)" 'BEGIN {
        r = m / h
        printf "ratio %s / GET /healthz throughput: %.3f (%d / %d req/s) target >= 0.50: %s\n", t, r, m, h, (r >= 0.5 ? "met" : "MISSED")
        exit (r >= 0.5 ? 0 : 1) }' || status=1
done
for t in "${TARGETS[@]}"; do
    if ((SUM_BAD[$t] > 0)); then
        echo "WARNING: $(describe "$t") had ${SUM_BAD[$t]} non-2xx responses or socket errors; its figures are not clean"
    fi
done
if ((status != 0)); then log "the throughput ratio target was missed"; fi
