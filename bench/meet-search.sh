#!/usr/bin/env bash
# Meeting search over many meetings: `GET /v1/meetings/search` latency (p50, p99) and
# throughput, issue 17's target. Seeds a fresh data dir offline with bench-tools' seed-meetings
# (MEETINGS finished meetings of SEGMENTS segments each, spread over USERS users, every tenth
# shared; stored and indexed through the meetings service as ended meetings are), starts
# `rampart serve` on it, signs in one user (who may read about a tenth of the meetings) and the
# administrator (who may read all of them: the widest access filter), then runs wrk with a Lua
# script that cycles through the seeder's queries (common and rare words, phrases), at one
# connection (latency) and at CONNECTIONS (throughput). Prints a markdown report.
#
# Settings (environment): MEETINGS=1000 USERS=10 SEGMENTS=60 LIMIT=10 DURATION=15 CONNECTIONS=16
#   THREADS=2 BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=60,
#   SEED_TIMEOUT=3600, BENCH_LOG, KEEP_TMP. Any other RAMPART_* variable reaches the server as
#   configuration.
set -euo pipefail

MEETINGS="${MEETINGS:-1000}"
USERS="${USERS:-10}"
SEGMENTS="${SEGMENTS:-60}"
LIMIT="${LIMIT:-10}"
DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-60}"
SEED_TIMEOUT="${SEED_TIMEOUT:-3600}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[meet-search] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in curl jq wrk; do
    command -v "$tool" >/dev/null || die "$tool is required (apt-get install -y $tool)"
done

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MEETINGS USERS SEGMENTS LIMIT DURATION CONNECTIONS THREADS BUILD_TIMEOUT STARTUP_TIMEOUT SEED_TIMEOUT
((CONNECTIONS >= THREADS && THREADS > 0 && DURATION > 0)) || die "bad CONNECTIONS/THREADS/DURATION"
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
bench_tmp meet-search
resolve_binary
resolve_tools seed-meetings

export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL RAMPART_CONFIG

log "seeding $MEETINGS meetings of $SEGMENTS segments for $USERS users (offline)"
seed_start=$SECONDS
run_bg timeout "$SEED_TIMEOUT" "$TOOLS/seed-meetings" --data-dir "$RAMPART_DATA_DIR" --meetings "$MEETINGS" \
    --users "$USERS" --segments "$SEGMENTS" >"$TMP/seed.json" 2>"$TMP/seed.log" \
    || { tail -n 20 "$TMP/seed.log" >&2; die "seeding failed"; }
SEED_SECS=$((SECONDS - seed_start))

start_rampart
MEM_START="$(mem_kib "$SERVER_PID")"

login() {
    local body
    body="$(jq -cn --arg u "$1" --arg p "$(jq -r .password "$TMP/seed.json")" '{username: $u, password: $p}')"
    curl -s --max-time 30 -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' -d "$body" | jq -r '.accessToken // empty'
}
USER_EMAIL="$(jq -r '.users[0]' "$TMP/seed.json")"
USER_TOKEN="$(login "$USER_EMAIL")"
ADMIN_TOKEN="$(login "$(jq -r .admin "$TMP/seed.json")")"
[[ -n "$USER_TOKEN" && -n "$ADMIN_TOKEN" ]] || die "sign-in failed"

# The request paths, one per query (URL-encoded by jq).
jq -r --arg limit "$LIMIT" '.queries[] | "/v1/meetings/search?q=\(@uri)&limit=\($limit)"' "$TMP/seed.json" >"$TMP/paths"
FOUND=""
while read -r path; do
    n="$(curl -s --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE$path" | jq '.items | length')" \
        || die "$path did not answer JSON"
    FOUND+="$n "
done <"$TMP/paths"
log "meetings found per query (administrator): $FOUND"

# The token reaches wrk through the environment; the paths are cycled, one per request.
cat >"$TMP/bench.lua" <<'LUA'
local paths, i = {}, 0
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %.0f %.0f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

ROWS=()
# run <who> <token> <connections> <threads>
run() {
    local t0 req us p50 p99 bad sockerr
    t0="$(ticks "$SERVER_PID")"
    BENCH_PATHS="$TMP/paths" BENCH_TOKEN="$2" run_bg timeout $((DURATION + 30)) \
        wrk -t"$4" -c"$3" -d"${DURATION}s" --timeout 10s -s "$TMP/bench.lua" "$BASE" >"$TMP/wrk.out" || die "wrk failed"
    read -r req us p50 p99 bad sockerr < <(awk '$1 == "BENCH_RESULT" { print $2, $3, $4, $5, $6, $7 }' "$TMP/wrk.out")
    ROWS+=("$(awk -v w="$1" -v c="$3" -v q="$req" -v us="$us" -v a="$p50" -v b="$p99" -v n="$bad" -v s="$sockerr" \
        -v k="$(($(ticks "$SERVER_PID") - t0))" -v hz="$CLK_TCK" \
        'BEGIN { printf "| %s | %d | %.0f | %.2f | %.2f | %d | %d | %.0f |", w, c, q / (us / 1e6), a / 1000, b / 1000, q, n + s, k / hz * 1e6 / q }')")
}
log "warming up"
DURATION=3 run warm-up "$ADMIN_TOKEN" "$CONNECTIONS" "$THREADS"
ROWS=()
for who in user admin; do
    token="$USER_TOKEN"
    [[ "$who" == admin ]] && token="$ADMIN_TOKEN"
    log "measuring as $who: 1 connection, then $CONNECTIONS"
    run "$who" "$token" 1 1
    run "$who" "$token" "$CONNECTIONS" "$THREADS"
done
read -r _ HWM < <(mem_kib "$SERVER_PID")

rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## meet-search $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); wrk on the same host; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (git $rev), SQLite in a fresh data dir, log filter ${RAMPART_LOG:-default (info)}"
echo "- configuration from the environment: $(config_env)"
echo "- data: $MEETINGS meetings × $SEGMENTS segments, $USERS users (every tenth meeting shared), seeded in ${SEED_SECS} s;" \
    "queries (meetings found by the administrator): $(jq -c .queries "$TMP/seed.json") ($FOUND); limit=$LIMIT"
echo "- the user reads $(jq -n --argjson m "$MEETINGS" --argjson u "$USERS" '($m / $u + $m / 10 / $u) | floor') meetings (their own and those shared with them); the administrator all"
echo "- wrk: ${DURATION}s per run, one connection (latency) then -t$THREADS -c$CONNECTIONS (throughput); server VmRSS at start $(mib "${MEM_START%% *}") MiB, VmHWM at end $(mib "$HWM") MiB"
echo
echo "| caller | connections | req/s | p50 ms | p99 ms | requests | errors | server CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
