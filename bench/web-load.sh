#!/usr/bin/env bash
# The web app in headless Chromium (Debian's, driven by playwright-core) against the release
# binary: the app shell's transfer size (brotli and gzip, as served), time to interactive of the
# sign-in page, opening a session of 2,000 messages, and the admin user list over 10,000 users.
#
# Settings (environment): MESSAGES=2000 USERS=10000 RUNS=5
#   BENCH_BIN, SKIP_BUILD, BUILD_TIMEOUT=3600, KEEP_TMP
set -euo pipefail

MESSAGES="${MESSAGES:-2000}"
USERS="${USERS:-10000}"
RUNS="${RUNS:-5}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[web-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MESSAGES USERS RUNS
bench_tmp web

make -C "$REPO_ROOT" --no-print-directory web chromium >&2
resolve_binary
log "building the seeding tool"
run_bg cargo build -q --release -p rampart-bench-tools --bin seed-web --manifest-path "$REPO_ROOT/Cargo.toml" >&2
SEED="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/seed-web"

for v in $(env | grep -oE '^RAMPART_[A-Z0-9_]+' || true); do unset "$v"; done
export RAMPART_DATA_DIR="$TMP/data"
log "seeding $MESSAGES messages and $USERS users"
SEEDED="$("$SEED" --data-dir "$RAMPART_DATA_DIR" --messages "$MESSAGES" --users "$USERS")"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RAMPART_LISTEN="127.0.0.1:$PORT" RAMPART_ACCESS_LOG__TARGET=off RAMPART_LOG=warn "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || die "server not ready: $(tail -5 "$TMP/server.log")"

cd "$REPO_ROOT/web"
BASE="http://127.0.0.1:$PORT" SEEDED="$SEEDED" RUNS="$RUNS" CHROMIUM="$(command -v chromium)" \
    node "$REPO_ROOT/web/scripts/bench-measure.mjs"
echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(date -u +%Y-%m-%dT%H:%MZ), binary $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
