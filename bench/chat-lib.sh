# shellcheck shell=bash
# Shared by chat-load.sh and ws-load.sh (sourced after lib.sh). Expects REPO_ROOT, TMP,
# BUILD_TIMEOUT, STARTUP_TIMEOUT and log/die from the sourcing script.

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

# resolve_tools [TOOL…]: sets TOOLS, the directory of the bench tools named (default
# fake-upstream, ttft and ws-load): $BENCH_TOOLS_DIR, or the release build, built unless SKIP_BUILD=1.
resolve_tools() {
    if [[ -n "${BENCH_TOOLS_DIR:-}" ]]; then
        TOOLS="$BENCH_TOOLS_DIR"
    else
        TOOLS="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release"
        if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
            log "building the bench tools (cargo build --release -p rampart-bench-tools)"
            run_bg timeout "$BUILD_TIMEOUT" cargo build --release -p rampart-bench-tools --manifest-path "$REPO_ROOT/Cargo.toml" >&2 \
                || die "bench tools build failed or took longer than ${BUILD_TIMEOUT}s"
        fi
    fi
    local tools=("$@") t
    ((${#tools[@]})) || tools=(fake-upstream ttft ws-load)
    for t in "${tools[@]}"; do
        [[ -x "$TOOLS/$t" ]] || die "no executable at $TOOLS/$t"
    done
}

# start_upstream <extra args…>: starts fake-upstream on a free port; sets UPSTREAM_PID and
# UPSTREAM_URL (…/v1).
start_upstream() {
    "$TOOLS/fake-upstream" --listen 127.0.0.1:0 "$@" >"$TMP/upstream.out" 2>&1 &
    UPSTREAM_PID=$!
    local deadline=$((SECONDS + 10))
    until grep -q '^fake-upstream listening on ' "$TMP/upstream.out" 2>/dev/null; do
        kill -0 "$UPSTREAM_PID" 2>/dev/null || { cat "$TMP/upstream.out" >&2; die "fake-upstream exited"; }
        ((SECONDS < deadline)) || die "fake-upstream did not start"
        sleep 0.05
    done
    UPSTREAM_URL="$(awk '/^fake-upstream listening on / { print $NF; exit }' "$TMP/upstream.out")"
}

# fake_model_config FILE ASSISTANT: a configuration file with the fake upstream ($UPSTREAM_URL)
# as model "fake" and an assistant of that id using it.
fake_model_config() {
    cat >"$1" <<TOML
[[models]]
id = "fake"
provider = "openai"
base_url = "$UPSTREAM_URL"
model = "fake-model"

[[assistants]]
id = "$2"
kind = "model"
model = "fake"
TOML
}

# start_rampart [command prefix…]: `rampart serve` on a free port with the environment as it
# is (run under the prefix, e.g. valgrind, when one is given); sets SERVER_PID, ADDR and BASE,
# and waits for /readyz.
start_rampart() {
    local port
    port="$(free_port)" || die "no free port found"
    ADDR="127.0.0.1:$port"
    BASE="http://$ADDR"
    log "starting $BIN serve on $ADDR"
    RAMPART_LISTEN="$ADDR" "$@" "$BIN" serve >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/readyz" || true)" == 200 ]]; do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$TMP/server.log" >&2; die "server exited during start-up"; }
        ((SECONDS < deadline)) || die "server not ready after ${STARTUP_TIMEOUT}s"
        sleep 0.05
    done
}

# pid and all its descendants, one per line.
tree_pids() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END {
            queue[1] = root; n = 1
            for (i = 1; i <= n; i++) {
                print queue[i]
                m = split(kids[queue[i]], k, " ")
                for (j = 1; j <= m; j++) queue[++n] = k[j]
            }
        }'
}

# mem_kib <pid…>: "VmRSS VmHWM" in KiB, summed over the given processes.
mem_kib() {
    local p rss=0 hwm=0 a b
    for p in "$@"; do
        a="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        b="$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        rss=$((rss + ${a:-0}))
        hwm=$((hwm + ${b:-0}))
    done
    echo "$rss $hwm"
}

# ticks <pid…>: user + system CPU time, in clock ticks, summed.
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
ticks() {
    local p t=0 v
    for p in "$@"; do
        v="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)"
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

machine_line() {
    local cpu
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "$(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
}

# The names of RAMPART_* variables in effect (values of secret-looking ones left out).
config_env() {
    env | grep -E '^RAMPART_' | grep -Ev '^RAMPART_(DATA_DIR|LISTEN|CONFIG)=|KEY|SECRET|PASSWORD|TOKEN' | sort | paste -sd ' ' - || true
}
