#!/usr/bin/env bash
# Meeting search over many meetings, issue 17's targets: `GET /v1/meetings/search` and the MCP
# tool `search_meetings` (`POST /mcp`, JSON-RPC `tools/call`), latency (p50, p99) and
# throughput. Seeds a fresh data dir offline with bench-tools' seed-meetings (MEETINGS finished
# meetings of SEGMENTS segments each, spread over USERS users, every tenth shared; stored and
# indexed through the meetings service as ended meetings are), starts `rampart serve` on it,
# signs in one user (who may read about a tenth of the meetings) and the administrator (who may
# read all of them: the widest access filter), gives each an API key for MCP (the user's with
# the `mcp` scope, the administrator's with `mcp` and `admin`, so both read what they read over
# REST), then runs wrk with Lua scripts that cycle through the seeder's queries (common and rare
# words, phrases), at one connection (latency) and at CONNECTIONS (throughput), for each of
# TARGETS. Every answer is checked: a status other than 200, or an MCP result that is not
# `"isError":false`, counts as an error. Prints a markdown report.
#
# MCP requests speak the per-request era (`2026-07-28`: version and capabilities in `_meta`,
# `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers), so no `initialize` precedes
# them: each stands alone, as the server serves them. lib.sh raises the per-key and per-user
# throttles (edge.api_key_rate and edge.user_rate) out of the way.
#
# Settings (environment): MEETINGS=1000 USERS=10 SEGMENTS=60 LIMIT=10 (REST `limit` and MCP
#   `maxResults`) DURATION=15 CONNECTIONS=16 THREADS=2 TARGETS="rest mcp" BENCH_BIN, SKIP_BUILD,
#   BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=60, SEED_TIMEOUT=3600, BENCH_LOG,
#   KEEP_TMP. Any other RAMPART_* variable reaches the server as configuration.
set -euo pipefail

MEETINGS="${MEETINGS:-1000}"
USERS="${USERS:-10}"
SEGMENTS="${SEGMENTS:-60}"
LIMIT="${LIMIT:-10}"
DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
TARGETS="${TARGETS:-rest mcp}"
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
for target in $TARGETS; do
    [[ "$target" == rest || "$target" == mcp ]] || die "TARGETS may name rest and mcp, got '$target'"
done
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

# The REST request paths, one per query (URL-encoded by jq).
jq -r --arg limit "$LIMIT" '.queries[] | "/v1/meetings/search?q=\(@uri)&limit=\($limit)"' "$TMP/seed.json" >"$TMP/paths"
FOUND=""
while read -r path; do
    n="$(curl -s --max-time 30 -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE$path" | jq '.items | length')" \
        || die "$path did not answer JSON"
    FOUND+="$n "
done <"$TMP/paths"
log "meetings found per query (administrator): $FOUND"

# The MCP request bodies, one per query: tools/call of search_meetings in the per-request era.
MCP_VERSION=2026-07-28
jq -c --argjson limit "$LIMIT" --arg v "$MCP_VERSION" '.queries | to_entries[] | {jsonrpc: "2.0", id: (.key + 1),
    method: "tools/call", params: {name: "search_meetings", arguments: {query: .value, maxResults: $limit},
    _meta: {"io.modelcontextprotocol/protocolVersion": $v, "io.modelcontextprotocol/clientCapabilities": {}}}}' \
    "$TMP/seed.json" >"$TMP/bodies"
mcp_key() {
    curl -s --max-time 30 -X POST "$BASE/v1/me/api-keys" -H "Authorization: Bearer $1" -H 'content-type: application/json' \
        -d "$(jq -cn --argjson s "$2" '{name: "bench-mcp", scopes: $s}')" | jq -r '.key // empty'
}
mcp_call() {
    curl -s --max-time 30 -w '\n%{http_code}' -X POST "$BASE/mcp" -H "Authorization: Bearer $1" \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        -H "mcp-protocol-version: $MCP_VERSION" -H 'mcp-method: tools/call' -H 'mcp-name: search_meetings' -d "$2"
}
if [[ " $TARGETS " == *" mcp "* ]]; then
    USER_KEY="$(mcp_key "$USER_TOKEN" '["mcp"]')"
    ADMIN_KEY="$(mcp_key "$ADMIN_TOKEN" '["mcp", "admin"]')"
    [[ -n "$USER_KEY" && -n "$ADMIN_KEY" ]] || die "creating the MCP API keys failed"
    MCP_FOUND=""
    while read -r body; do
        out="$(mcp_call "$ADMIN_KEY" "$body")"
        [[ "${out##*$'\n'}" == 200 ]] || die "MCP search_meetings answered ${out##*$'\n'}: ${out%$'\n'*}"
        n="$(jq -e '.result | select(.isError == false) | .structuredContent.meetings | length' <<<"${out%$'\n'*}")" \
            || die "MCP search_meetings failed: ${out%$'\n'*}"
        MCP_FOUND+="$n "
    done <"$TMP/bodies"
    log "meetings found per query over MCP (administrator): $MCP_FOUND"
fi

# Each thread counts the answers that are not what a client wants (CHECK: a string the body
# must hold); `done` sums them over the threads. The credential reaches wrk through the
# environment; the paths or bodies are cycled, one per request.
cat >"$TMP/check.lua" <<'LUA'
bad = 0
local check = os.getenv("BENCH_CHECK")
response = function(status, headers, body)
  if status ~= 200 or (check ~= nil and check ~= "" and not string.find(body, check, 1, true)) then bad = bad + 1 end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local e, failed = summary.errors, 0
  for _, t in ipairs(threads) do failed = failed + t:get("bad") end
  io.write(string.format("BENCH_RESULT %d %d %.0f %.0f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), failed, e.connect + e.read + e.write + e.timeout))
end
LUA
cat >"$TMP/rest.lua" <<'LUA'
dofile(os.getenv("BENCH_DIR") .. "/check.lua")
local paths, i = {}, 0
for line in io.lines(os.getenv("BENCH_DIR") .. "/paths") do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
cat >"$TMP/mcp.lua" <<LUA
dofile(os.getenv("BENCH_DIR") .. "/check.lua")
local bodies, i = {}, 0
for line in io.lines(os.getenv("BENCH_DIR") .. "/bodies") do bodies[#bodies + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "$MCP_VERSION"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "search_meetings"
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/mcp", nil, bodies[i])
end
LUA

ROWS=()
# run <target> <who> <credential> <connections> <threads>
run() {
    local t0 req us p50 p99 bad sockerr check=""
    [[ "$1" == mcp ]] && check='"isError":false'
    t0="$(ticks "$SERVER_PID")"
    BENCH_DIR="$TMP" BENCH_TOKEN="$3" BENCH_CHECK="$check" run_bg timeout $((DURATION + 30)) \
        wrk -t"$5" -c"$4" -d"${DURATION}s" --timeout 10s -s "$TMP/$1.lua" "$BASE" >"$TMP/wrk.out" || die "wrk failed"
    read -r req us p50 p99 bad sockerr < <(awk '$1 == "BENCH_RESULT" { print $2, $3, $4, $5, $6, $7 }' "$TMP/wrk.out")
    [[ -n "$req" ]] || { cat "$TMP/wrk.out" >&2; die "no result from wrk"; }
    ROWS+=("$(awk -v t="$1" -v w="$2" -v c="$4" -v q="$req" -v us="$us" -v a="$p50" -v b="$p99" -v n="$bad" -v s="$sockerr" \
        -v k="$(($(ticks "$SERVER_PID") - t0))" -v hz="$CLK_TCK" \
        'BEGIN { printf "| %s | %s | %d | %.0f | %.2f | %.2f | %d | %d | %.0f |", t, w, c, q / (us / 1e6), a / 1000, b / 1000, q, n + s, k / hz * 1e6 / q }')")
}
log "warming up"
for target in $TARGETS; do
    cred="$ADMIN_TOKEN"
    [[ "$target" == mcp ]] && cred="$ADMIN_KEY"
    DURATION=3 run "$target" warm-up "$cred" "$CONNECTIONS" "$THREADS"
done
ROWS=()
for who in user admin; do
    for target in $TARGETS; do
        case "$target/$who" in
            rest/user) cred="$USER_TOKEN" ;;
            rest/admin) cred="$ADMIN_TOKEN" ;;
            mcp/user) cred="$USER_KEY" ;;
            mcp/admin) cred="$ADMIN_KEY" ;;
        esac
        log "measuring $target as $who: 1 connection, then $CONNECTIONS"
        run "$target" "$who" "$cred" 1 1
        run "$target" "$who" "$cred" "$CONNECTIONS" "$THREADS"
    done
done
read -r _ HWM < <(mem_kib "$SERVER_PID")

rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## meet-search $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); wrk on the same host; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (git $rev), SQLite in a fresh data dir, log filter ${RAMPART_LOG:-default (info)}"
echo "- configuration from the environment: $(config_env)"
echo "- per-credential throttles (lib.sh): edge.api_key_rate/api_key_burst $RAMPART_EDGE__API_KEY_RATE/$RAMPART_EDGE__API_KEY_BURST (default 100/s, bursts of 50), edge.user_rate/user_burst $RAMPART_EDGE__USER_RATE/$RAMPART_EDGE__USER_BURST"
echo "- data: $MEETINGS meetings × $SEGMENTS segments, $USERS users (every tenth meeting shared), seeded in ${SEED_SECS} s;" \
    "queries (meetings found by the administrator): $(jq -c .queries "$TMP/seed.json") (REST: $FOUND${MCP_FOUND:+; MCP: $MCP_FOUND}); limit=$LIMIT"
echo "- targets: $TARGETS; REST: GET /v1/meetings/search?q=…&limit=$LIMIT with the session token; MCP: POST /mcp tools/call search_meetings {query, maxResults: $LIMIT}, protocol $MCP_VERSION, with an API key (scopes mcp; the administrator's mcp and admin); every answer checked (200, and for MCP \"isError\":false)"
echo "- the user reads $(jq -n --argjson m "$MEETINGS" --argjson u "$USERS" '($m / $u + $m / 10 / $u) | floor') meetings (their own and those shared with them); the administrator all"
echo "- wrk: ${DURATION}s per run, one connection (latency) then -t$THREADS -c$CONNECTIONS (throughput); server VmRSS at start $(mib "${MEM_START%% *}") MiB, VmHWM at end $(mib "$HWM") MiB"
echo
echo "| target | caller | connections | req/s | p50 ms | p99 ms | requests | errors | server CPU µs/req |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
