#!/usr/bin/env bash
# Chat completions through Rampart and through LiteLLM, against the same fast fake upstream.
#
# Starts bench-tools' fake-upstream (an OpenAI-compatible server answering from memory), then
# `rampart serve` with that upstream as model "fake" (throw-away data dir, a user and an API
# key created offline), then LiteLLM proxy (`pip install 'litellm[proxy]'` into a temporary
# venv, one worker) with the same upstream, and measures side by side:
#
#   1. wrk, POST /v1/chat/completions (non-streaming), CONNECTIONS connections, for each of
#      upstream (direct), rampart (Bearer API key), litellm (Bearer master key); ROUNDS rounds,
#      order alternating; req/s, p50/p99, errors, CPU of each process per request.
#   2. ttft: TTFT_REQUESTS sequential streaming requests per target, time to the first content
#      token and to [DONE]; the overhead over the upstream's own figures.
#   3. VmRSS / VmHWM of rampart and of LiteLLM's process tree after the load.
#
# Prints a markdown report. Writes nothing outside its temporary directory (KEEP_TMP=1 keeps it).
# If LiteLLM cannot be installed or started, it is reported as "not measured" and the rest runs.
#
# Settings (environment):
#   CONNECTIONS=64  THREADS=2  DURATION=15 (seconds per run)  ROUNDS=2  WARMUP=2 (seconds per target)
#   TTFT_REQUESTS=200  TTFT_WARMUP=20  CHUNK_DELAY_MS=0 (fake-upstream, per streamed chunk)
#   LITELLM=1 (0: skip)  LITELLM_SPEC='litellm[proxy]'  LITELLM_VENV=<dir> (reuse; installs if missing)
#   PIP_TIMEOUT=900  LITELLM_STARTUP_TIMEOUT=180  UPSTREAM_THREADS=<n> (fake-upstream workers)
#   BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30, BENCH_LOG, KEEP_TMP
#   Any other RAMPART_* variable reaches the server as configuration.
set -euo pipefail

CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-15}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
TTFT_REQUESTS="${TTFT_REQUESTS:-200}"
TTFT_WARMUP="${TTFT_WARMUP:-20}"
CHUNK_DELAY_MS="${CHUNK_DELAY_MS:-0}"
LITELLM="${LITELLM:-1}"
LITELLM_SPEC="${LITELLM_SPEC:-litellm[proxy]}"
PIP_TIMEOUT="${PIP_TIMEOUT:-900}"
LITELLM_STARTUP_TIMEOUT="${LITELLM_STARTUP_TIMEOUT:-180}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi

BENCH_EMAIL="bench@example.com"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[chat-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

((DURATION > 0 && ROUNDS > 0 && CONNECTIONS >= THREADS && THREADS > 0 && TTFT_REQUESTS > 0)) \
    || die "bad DURATION/ROUNDS/CONNECTIONS/THREADS/TTFT_REQUESTS"
command -v curl >/dev/null || die "curl is required"

# --- load tool (as auth-load.sh) ----------------------------------------------------------
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
whole_numbers CONNECTIONS THREADS DURATION ROUNDS WARMUP TTFT_REQUESTS TTFT_WARMUP PIP_TIMEOUT LITELLM_STARTUP_TIMEOUT BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
LITELLM_PID=""
cleanup_extra() {
    if [[ -n "$LITELLM_PID" ]]; then
        kill -TERM -- "-$LITELLM_PID" 2>/dev/null || true # its own process group (setsid)
        stop_pid "$LITELLM_PID" 15
        kill -KILL -- "-$LITELLM_PID" 2>/dev/null || true
    fi
}
bench_tmp bench

# --- binaries, upstream ----------------------------------------------------------------
resolve_binary
resolve_tools
upstream_args=(--chunk-delay-ms "$CHUNK_DELAY_MS")
if [[ -n "${UPSTREAM_THREADS:-}" ]]; then upstream_args+=(--threads "$UPSTREAM_THREADS"); fi
start_upstream "${upstream_args[@]}"
log "fake upstream at $UPSTREAM_URL"

# --- rampart -----------------------------------------------------------------------------
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
fake_model_config "$TMP/rampart.toml" fake
export RAMPART_CONFIG="$TMP/rampart.toml"
bench_user "$BENCH_EMAIL"
start_rampart

# --- LiteLLM -----------------------------------------------------------------------------
LITELLM_STATUS="not measured (LITELLM=0)"
LITELLM_VERSION=""
LITELLM_KEY="sk-bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
start_litellm() {
    local venv="${LITELLM_VENV:-$TMP/venv}" py port deadline
    py="$(command -v python3 || true)"
    [[ -n "$py" ]] || { LITELLM_STATUS="not measured (no python3)"; return 1; }
    if [[ ! -x "$venv/bin/litellm" ]]; then
        log "installing $LITELLM_SPEC into $venv (pip, up to ${PIP_TIMEOUT}s)"
        if ! { [[ -x "$venv/bin/pip" ]] || "$py" -m venv "$venv" >>"$TMP/pip.log" 2>&1; } \
            || ! run_bg timeout "$PIP_TIMEOUT" "$venv/bin/pip" install --disable-pip-version-check -q "$LITELLM_SPEC" >>"$TMP/pip.log" 2>&1; then
            tail -n 5 "$TMP/pip.log" >&2 || true
            LITELLM_STATUS="not measured (pip install '$LITELLM_SPEC' failed or timed out)"
            return 1
        fi
    fi
    LITELLM_VERSION="$("$venv/bin/pip" show litellm 2>/dev/null | awk '/^Version:/ { print $2 }')"
    port="$(free_port)" || { LITELLM_STATUS="not measured (no free port)"; return 1; }
    LITELLM_BASE="http://127.0.0.1:$port"
    cat >"$TMP/litellm.yaml" <<EOF
model_list:
  - model_name: fake
    litellm_params:
      model: openai/fake-model
      api_base: $UPSTREAM_URL
      api_key: none
general_settings:
  master_key: $LITELLM_KEY
EOF
    log "starting LiteLLM $LITELLM_VERSION on 127.0.0.1:$port (one worker)"
    # Its own process group, so that clean-up reaches any worker it forks. The local model cost
    # map keeps its start-up off the network.
    LITELLM_LOCAL_MODEL_COST_MAP=True setsid "$venv/bin/litellm" --config "$TMP/litellm.yaml" \
        --host 127.0.0.1 --port "$port" --num_workers 1 >"$TMP/litellm.log" 2>&1 &
    LITELLM_PID=$!
    deadline=$((SECONDS + LITELLM_STARTUP_TIMEOUT))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$LITELLM_BASE/health/liveliness" || true)" == 200 ]]; do
        if ! kill -0 "$LITELLM_PID" 2>/dev/null || ((SECONDS >= deadline)); then
            tail -n 20 "$TMP/litellm.log" >&2 || true
            LITELLM_STATUS="not measured (LiteLLM did not start in ${LITELLM_STARTUP_TIMEOUT}s)"
            return 1
        fi
        sleep 0.5
    done
    LITELLM_STATUS="measured"
}
if [[ "$LITELLM" == 1 ]] && ! start_litellm; then
    log "LiteLLM: $LITELLM_STATUS; measuring the rest"
fi

# --- targets -----------------------------------------------------------------------------
BODY='{"model":"fake","messages":[{"role":"user","content":"Say hello."}]}'
TARGETS=(upstream rampart)
if [[ "$LITELLM_STATUS" == measured ]]; then TARGETS+=(litellm); fi
target_url() { # target -> base URL of the OpenAI API
    case "$1" in
        upstream) echo "$UPSTREAM_URL" ;;
        rampart) echo "$BASE/v1" ;;
        litellm) echo "$LITELLM_BASE/v1" ;;
    esac
}
target_key() {
    case "$1" in
        upstream) echo "" ;;
        rampart) echo "$API_KEY" ;;
        litellm) echo "$LITELLM_KEY" ;;
    esac
}
describe() {
    case "$1" in
        upstream) echo 'fake upstream (direct)' ;;
        rampart) echo 'Rampart (Bearer API key)' ;;
        litellm) echo "LiteLLM ${LITELLM_VERSION} (1 worker, master key)" ;;
    esac
}
# The processes that serve a target, besides the upstream.
proxy_pids() {
    case "$1" in
        upstream) ;;
        rampart) echo "$SERVER_PID" ;;
        litellm) tree_pids "$LITELLM_PID" ;;
    esac
}

# Refuse to measure a target that does not answer 200 (non-streaming and streaming).
for t in "${TARGETS[@]}"; do
    key="$(target_key "$t")"
    auth=()
    if [[ -n "$key" ]]; then auth=(-H "Authorization: Bearer $key"); fi
    for body in "$BODY" '{"model":"fake","stream":true,"messages":[{"role":"user","content":"Say hello."}]}'; do
        code="$(curl -s -o "$TMP/check.out" -w '%{http_code}' --max-time 30 -X POST "$(target_url "$t")/chat/completions" \
            -H 'content-type: application/json' "${auth[@]}" -d "$body" || true)"
        [[ "$code" == 200 ]] || { head -c 500 "$TMP/check.out" >&2; die "$(describe "$t") answered $code, expected 200"; }
    done
done

MEM_IDLE_RAMPART="$(mem_kib "$SERVER_PID")"
MEM_IDLE_LITELLM=""
if [[ "$LITELLM_STATUS" == measured ]]; then
    # shellcheck disable=SC2046
    MEM_IDLE_LITELLM="$(mem_kib $(tree_pids "$LITELLM_PID"))"
fi
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

# --- wrk ---------------------------------------------------------------------------------
cat >"$TMP/bench.lua" <<'LUA'
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %.0f %.0f %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA

# run_wrk <seconds> <target> -> "$TMP/result": requests duration_us p50_us p99_us non2xx sockerr
run_wrk() {
    local key auth=""
    key="$(target_key "$2")"
    if [[ -n "$key" ]]; then auth="Bearer $key"; fi
    BENCH_BODY="$BODY" BENCH_AUTH="$auth" run_bg timeout $(($1 + 30)) \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1s" --timeout 10s -s "$TMP/bench.lua" "$(target_url "$2")/chat/completions" >"$TMP/wrk.out" \
        || die "wrk failed on $2"
    awk '$1 == "BENCH_RESULT" { print $2, $3, $4, $5, $6, $7 }' "$TMP/wrk.out" >"$TMP/result"
    [[ -s "$TMP/result" ]] || die "no result from wrk on $2"
}

declare -A SUM_REQ SUM_US SUM_P50 MAX_P99 SUM_BAD SUM_PT SUM_UT
for t in "${TARGETS[@]}"; do SUM_REQ[$t]=0; SUM_US[$t]=0; SUM_P50[$t]=0; MAX_P99[$t]=0; SUM_BAD[$t]=0; SUM_PT[$t]=0; SUM_UT[$t]=0; done

if ((WARMUP > 0)); then
    log "warming up ${WARMUP}s per target"
    for t in "${TARGETS[@]}"; do run_wrk "$WARMUP" "$t"; done
fi

ROWS=()
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${TARGETS[@]}")
    if ((r % 2 == 0)); then mapfile -t order < <(printf '%s\n' "${TARGETS[@]}" | tac); fi
    for t in "${order[@]}"; do
        log "round $r/$ROUNDS: $(describe "$t") for ${DURATION}s, $CONNECTIONS connections, $THREADS threads"
        mapfile -t pp < <(proxy_pids "$t")
        p0="$(ticks "${pp[@]}")"
        u0="$(ticks "$UPSTREAM_PID")"
        run_wrk "$DURATION" "$t"
        read -r req us p50 p99 non2xx sockerr <"$TMP/result"
        pt=$(($(ticks "${pp[@]}") - p0))
        ut=$(($(ticks "$UPSTREAM_PID") - u0))
        ROWS+=("$(awk -v t="$(describe "$t")" -v r="$r" -v q="$req" -v us="$us" -v a="$p50" -v b="$p99" -v n="$non2xx" -v s="$sockerr" \
            -v pt="$pt" -v ut="$ut" -v hz="$CLK_TCK" -v proxied="$([[ $t == upstream ]] && echo 0 || echo 1)" \
            'BEGIN { pc = pt / hz * 1e6; uc = ut / hz * 1e6
                     printf "| %s | %d | %.0f | %.2f | %.2f | %d | %d | %d | %s | %.1f |", t, r, q / (us / 1e6), a / 1000, b / 1000, q, n, s,
                         (proxied ? sprintf("%.0f%% / %.1f", 100 * pc / us, pc / q) : "—"), uc / q }')")
        SUM_REQ[$t]=$((SUM_REQ[$t] + req))
        SUM_US[$t]=$((SUM_US[$t] + us))
        SUM_P50[$t]=$((SUM_P50[$t] + p50))
        if ((p99 > MAX_P99[$t])); then MAX_P99[$t]=$p99; fi
        SUM_BAD[$t]=$((SUM_BAD[$t] + non2xx + sockerr))
        SUM_PT[$t]=$((SUM_PT[$t] + pt))
        SUM_UT[$t]=$((SUM_UT[$t] + ut))
    done
done
rps() { awk -v q="${SUM_REQ[$1]}" -v us="${SUM_US[$1]}" 'BEGIN { printf "%.0f", q / (us / 1e6) }'; }

# --- time to first token -----------------------------------------------------------------
declare -A TTFT
for t in "${TARGETS[@]}"; do
    log "ttft: $TTFT_REQUESTS sequential streaming requests to $(describe "$t") (after $TTFT_WARMUP warm-up)"
    TTFT_API_KEY="$(target_key "$t")" run_bg timeout $((TTFT_REQUESTS + TTFT_WARMUP + 120)) \
        "$TOOLS/ttft" --base-url "$(target_url "$t")" --model fake --requests "$TTFT_REQUESTS" --warmup "$TTFT_WARMUP" \
        --label "$t" >"$TMP/ttft.out" 2>"$TMP/ttft.err" || { cat "$TMP/ttft.err" >&2; die "ttft failed on $t"; }
    TTFT[$t]="$(awk '$1 == "TTFT_RESULT" { $1 = ""; print substr($0, 2) }' "$TMP/ttft.out")"
    [[ -n "${TTFT[$t]}" ]] || die "no result from ttft on $t"
done

MEM_RAMPART="$(mem_kib "$SERVER_PID")"
MEM_LITELLM=""
if [[ "$LITELLM_STATUS" == measured ]]; then
    # shellcheck disable=SC2046
    MEM_LITELLM="$(mem_kib $(tree_pids "$LITELLM_PID"))"
fi
MEM_UPSTREAM="$(mem_kib "$UPSTREAM_PID")"

# --- report ------------------------------------------------------------------------------
rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## chat-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load generator, upstream and proxies on the same host; load average at start: $LOAD_AT_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $rev), SQLite in a fresh data dir, log filter ${RAMPART_LOG:-default (info)}; configuration from the environment: $(config_env)"
echo "- upstream: $TOOLS/fake-upstream, 20 content chunks per stream, chunk delay ${CHUNK_DELAY_MS} ms${UPSTREAM_THREADS:+, $UPSTREAM_THREADS worker threads}"
echo "- LiteLLM: ${LITELLM_STATUS}${LITELLM_VERSION:+, version $LITELLM_VERSION ($LITELLM_SPEC), --num_workers 1}"
echo "- wrk: -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS round(s), order alternating, ${WARMUP}s warm-up per target; body $BODY"
echo
echo "### Non-streaming POST /v1/chat/completions, runs"
echo
echo "| target | round | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors | proxy CPU (% of 1 core / µs per req) | upstream CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "### Non-streaming summary (req/s over all rounds; p50 mean of rounds; p99 worst round)"
echo
echo "| target | req/s | ratio to upstream | p50 ms | p99 ms | errors | proxy CPU µs/req | upstream CPU µs/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
    awk -v t="$(describe "$t")" -v q="$(rps "$t")" -v h="$(rps upstream)" -v a="${SUM_P50[$t]}" -v n="$ROUNDS" -v b="${MAX_P99[$t]}" \
        -v e="${SUM_BAD[$t]}" -v pt="${SUM_PT[$t]}" -v ut="${SUM_UT[$t]}" -v hz="$CLK_TCK" -v req="${SUM_REQ[$t]}" -v up="$([[ $t == upstream ]] && echo 1 || echo 0)" \
        'BEGIN { printf "| %s | %d | %.4f | %.2f | %.2f | %d | %s | %.1f |\n", t, q, q / h, a / n / 1000, b / 1000, e,
                 (up ? "—" : sprintf("%.1f", pt / hz * 1e6 / req)), ut / hz * 1e6 / req }'
done
echo
echo "### Streaming: time to first token, $TTFT_REQUESTS sequential requests each (ms)"
echo
echo "| target | TTFT median | p90 | p99 | max | added median | added p99 | to [DONE] median | p99 | content chunks | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
read -r _ _ u50 _ u99 _ _ _ _ _ _ <<<"${TTFT[upstream]}"
for t in "${TARGETS[@]}"; do
    read -r n err t50 t90 t99 tmax d50 _ d99 _ chunks <<<"${TTFT[$t]}"
    awk -v t="$(describe "$t")" -v a="$t50" -v b="$t90" -v c="$t99" -v m="$tmax" -v d="$d50" -v e="$d99" -v ch="$chunks" -v er="$err" \
        -v u50="$u50" -v u99="$u99" -v up="$([[ $t == upstream ]] && echo 1 || echo 0)" \
        'BEGIN { printf "| %s | %.3f | %.3f | %.3f | %.3f | %s | %s | %.3f | %.3f | %d | %d |\n", t, a / 1e3, b / 1e3, c / 1e3, m / 1e3,
                 (up ? "—" : sprintf("%+.3f", (a - u50) / 1e3)), (up ? "—" : sprintf("%+.3f", (c - u99) / 1e3)), d / 1e3, e / 1e3, ch, er }'
done
echo
echo "### Memory after the load (MiB)"
echo
echo "| process | VmRSS idle (before load) | VmRSS after load | VmHWM (peak) |"
echo "|---|---:|---:|---:|"
read -r ri _ <<<"$MEM_IDLE_RAMPART"
read -r rr rh <<<"$MEM_RAMPART"
echo "| rampart | $(mib "$ri") | $(mib "$rr") | $(mib "$rh") |"
if [[ -n "$MEM_LITELLM" ]]; then
    read -r li _ <<<"$MEM_IDLE_LITELLM"
    read -r lr lh <<<"$MEM_LITELLM"
    echo "| LiteLLM (process tree, $(tree_pids "$LITELLM_PID" | wc -l) processes; peak = sum of each one's VmHWM) | $(mib "$li") | $(mib "$lr") | $(mib "$lh") |"
fi
read -r ur uh <<<"$MEM_UPSTREAM"
echo "| fake-upstream | — | $(mib "$ur") | $(mib "$uh") |"
echo
# --- verdicts ----------------------------------------------------------------------------
verdict() { if [[ "$1" == 1 ]]; then echo met; else echo MISSED; fi; }
ratio_ok="$(awk -v m="$(rps rampart)" -v h="$(rps upstream)" 'BEGIN { print (m / h >= 0.15) ? 1 : 0 }')"
p99_ok="$(awk -v b="${MAX_P99[rampart]}" 'BEGIN { print (b < 20000) ? 1 : 0 }')"
read -r _ _ r50 _ r99 _ _ _ _ _ _ <<<"${TTFT[rampart]}"
t50_ok="$(awk -v a="$r50" -v u="$u50" 'BEGIN { print (a - u < 500) ? 1 : 0 }')"
t99_ok="$(awk -v a="$r99" -v u="$u99" 'BEGIN { print (a - u < 2000) ? 1 : 0 }')"
rss_ok="$(awk -v k="$rh" 'BEGIN { print (k < 50 * 1024) ? 1 : 0 }')"
awk -v m="$(rps rampart)" -v h="$(rps upstream)" -v v="$(verdict "$ratio_ok")" -v c="$CONNECTIONS" \
    'BEGIN { printf "ratio Rampart / upstream req/s (non-streaming, %d connections): %.4f (%d / %d) target >= 0.15: %s\n", c, m / h, m, h, v }'
awk -v b="${MAX_P99[rampart]}" -v v="$(verdict "$p99_ok")" 'BEGIN { printf "Rampart p99 (worst round): %.2f ms target < 20 ms: %s\n", b / 1000, v }'
awk -v a="$r50" -v u="$u50" -v v="$(verdict "$t50_ok")" 'BEGIN { printf "Rampart added TTFT, median: %+.3f ms target < 0.5 ms: %s\n", (a - u) / 1e3, v }'
awk -v a="$r99" -v u="$u99" -v v="$(verdict "$t99_ok")" 'BEGIN { printf "Rampart added TTFT, p99: %+.3f ms target < 2 ms: %s\n", (a - u) / 1e3, v }'
echo "Rampart VmHWM after the load: $(mib "$rh") MiB target < 50 MiB: $(verdict "$rss_ok")"
if [[ "$LITELLM_STATUS" == measured ]]; then
    awk -v m="$(rps litellm)" -v h="$(rps upstream)" 'BEGIN { printf "ratio LiteLLM / upstream req/s: %.4f (%d / %d; %.0fx below the upstream)\n", m / h, m, h, (m > 0 ? h / m : 0) }'
    read -r _ _ l50 _ l99 _ _ _ _ _ _ <<<"${TTFT[litellm]}"
    awk -v a="$l50" -v b="$l99" -v u="$u50" -v w="$u99" 'BEGIN { printf "LiteLLM added TTFT: median %+.3f ms, p99 %+.3f ms\n", (a - u) / 1e3, (b - w) / 1e3 }'
else
    echo "LiteLLM: $LITELLM_STATUS"
fi
for t in "${TARGETS[@]}"; do
    if ((SUM_BAD[$t] > 0)); then
        echo "WARNING: $(describe "$t") had ${SUM_BAD[$t]} non-2xx responses or socket errors; its figures are not clean"
    fi
done
