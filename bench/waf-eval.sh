#!/usr/bin/env bash
# WAF detection and false positives over the network: starts `rampart serve` (default edge
# configuration unless RAMPART_EDGE__* say otherwise) and runs bench-tools' waf-eval against it.
# Settings (environment): CRS=../shared/data/crs/crs-v4.28.0-941-942.jsonl BENIGN=../shared/data/beir-scifact
#   MISSED=<file> (list misses and false positives there), BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR,
#   BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30, KEEP_TMP
set -euo pipefail
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRS="${CRS:-$REPO_ROOT/../shared/data/crs/crs-v4.28.0-941-942.jsonl}"
BENIGN="${BENIGN:-$REPO_ROOT/../shared/data/beir-scifact}"
log() { printf '[waf-eval] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ -f "$CRS" ]] || die "no CRS tests at $CRS (set CRS)"
command -v curl >/dev/null || die "curl is required"
# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
bench_tmp waf
resolve_binary
resolve_tools waf-eval
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_CONFIG RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
# The CRS requests all come from loopback: the per-address rate rule would otherwise count them.
export RAMPART_LOG="${RAMPART_LOG:-warn}"
start_rampart
echo "### waf-eval $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line)"
echo "- rampart: $BIN (repository at git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), edge configuration: defaults $(config_env)"
echo
args=(--addr "$ADDR" --crs "$CRS" --benign "$BENIGN")
if [[ -n "${MISSED:-}" ]]; then args+=(--missed "$MISSED"); fi
run_bg "$TOOLS/waf-eval" "${args[@]}"
