# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run). Expects REPO_ROOT, BUILD_TIMEOUT and the
# functions log/die from the sourcing script; uses the global CHILD_PID.

CHILD_PID=""

# One client credential drives each benchmark's whole load: per-key and per-user throttling
# (edge.api_key_rate, edge.user_rate) would answer 429 by design, so the scripts raise them
# unless the caller sets them. Every other edge rule stays as configured (defaults: on).
export RAMPART_EDGE__API_KEY_RATE="${RAMPART_EDGE__API_KEY_RATE:-1000000000}"
export RAMPART_EDGE__API_KEY_BURST="${RAMPART_EDGE__API_KEY_BURST:-1000000000}"
export RAMPART_EDGE__USER_RATE="${RAMPART_EDGE__USER_RATE:-1000000000}"
export RAMPART_EDGE__USER_BURST="${RAMPART_EDGE__USER_BURST:-1000000000}"

# pid seconds: SIGTERM, then SIGKILL after the grace period.
stop_pid() {
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Long steps run in the background and are waited for, so that a signal to the script is
# acted on at once (its trap stops them) rather than after they finish.
run_bg() {
    "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# Sets BIN: $BENCH_BIN, or the release binary, built unless SKIP_BUILD=1.
resolve_binary() {
    if [[ -n "${BENCH_BIN:-}" ]]; then
        BIN="$BENCH_BIN"
    else
        BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/rampart"
        if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
            log "building the release binary (cargo build --release -p rampart-server; a clean build takes minutes)"
            run_bg timeout "$BUILD_TIMEOUT" cargo build --release -p rampart-server --manifest-path "$REPO_ROOT/Cargo.toml" >&2 \
                || die "release build failed or took longer than ${BUILD_TIMEOUT}s"
        fi
    fi
    [[ -x "$BIN" ]] || die "no executable at $BIN"
}
