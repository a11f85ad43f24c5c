# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run). Expects REPO_ROOT, BUILD_TIMEOUT and the
# functions log/die from the sourcing script; uses the global CHILD_PID.

CHILD_PID=""
SERVER_PID=""
UPSTREAM_PID=""

# One client credential drives each benchmark's whole load: per-key and per-user throttling
# (edge.api_key_rate, edge.user_rate) would answer 429 by design, so the scripts raise them
# unless the caller sets them. Every other edge rule stays as configured (defaults: on).
export RAMPART_EDGE__API_KEY_RATE="${RAMPART_EDGE__API_KEY_RATE:-1000000000}"
export RAMPART_EDGE__API_KEY_BURST="${RAMPART_EDGE__API_KEY_BURST:-1000000000}"
export RAMPART_EDGE__USER_RATE="${RAMPART_EDGE__USER_RATE:-1000000000}"
export RAMPART_EDGE__USER_BURST="${RAMPART_EDGE__USER_BURST:-1000000000}"

# The password hashing cost of the users the scripts create and sign in: the server's default
# (Argon2id, 19 MiB, 2 passes, 1 lane) unless the caller sets another.
export RAMPART_AUTH__ARGON2__MEMORY_KIB="${RAMPART_AUTH__ARGON2__MEMORY_KIB:-19456}"
export RAMPART_AUTH__ARGON2__ITERATIONS="${RAMPART_AUTH__ARGON2__ITERATIONS:-2}"
export RAMPART_AUTH__ARGON2__PARALLELISM="${RAMPART_AUTH__ARGON2__PARALLELISM:-1}"

# whole_numbers VAR...: stops with a clear message unless each named setting is a whole number.
whole_numbers() {
    local v
    for v in "$@"; do
        [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
    done
}

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

# bench_tmp NAME: a fresh temporary dir in TMP, and traps that on exit (also on failure or
# Ctrl-C) stop the running step (CHILD_PID), whatever `cleanup_extra` stops when the script
# defines it, the server (SERVER_PID) and the fake upstream (UPSTREAM_PID), then remove TMP
# (kept with KEEP_TMP=1).
bench_tmp() {
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/rampart-$1.XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local rc=$?
    trap - INT TERM
    if [[ -n "$CHILD_PID" ]]; then stop_pid "$CHILD_PID" 10; fi
    if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
    if [[ -n "$SERVER_PID" ]]; then stop_pid "$SERVER_PID" 25; fi
    if [[ -n "$UPSTREAM_PID" ]]; then stop_pid "$UPSTREAM_PID" 5; fi
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}

# bench_user EMAIL: creates the user (a random password) and an API key offline, in
# RAMPART_DATA_DIR, before the server opens the database; sets PASSWORD and API_KEY.
bench_user() {
    PASSWORD="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$PASSWORD" | timeout 60 "$BIN" user add --email "$1" --password-stdin >/dev/null 2>>"$TMP/cli.log" \
        || { cat "$TMP/cli.log" >&2; die "rampart user add failed"; }
    API_KEY="$(timeout 60 "$BIN" apikey create --email "$1" --name bench 2>>"$TMP/cli.log")" \
        || { cat "$TMP/cli.log" >&2; die "rampart apikey create failed"; }
    [[ -n "$API_KEY" ]] || die "rampart apikey create printed nothing"
}
