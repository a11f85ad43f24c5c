#!/usr/bin/env bash
# Knowledge bases end to end: ingestion throughput and retrieval latency through the API.
#
# Starts `rampart serve` (throw-away data dir, SQLite; a user and an API key created offline),
# then bench-tools' kb-load: creates a knowledge base, uploads the BEIR SciFact corpus as text
# files COPIES times (copies carry a marker so none is a duplicate; 5,183 documents per copy),
# waits until every document is ingested (parsed, chunked, sealed, stored, indexed — and
# embedded when EMBED_URL is set), and reports documents/s and MB/s of text. Then it times the
# 300 test queries one at a time through POST /v1/knowledge-bases/{id}/retrieve for each search
# type in SEARCH, with nDCG@10 of the first copy as a check that the answers are right.
#
# With EMBED_URL (an OpenAI-compatible `/v1` serving embeddings, e.g. bench/embed-server), the
# knowledge base embeds with it and SEARCH defaults to "lexical,semantic,hybrid". With MINILM_DIR
# (the weights of `make minilm-model`, e.g. target/models/all-MiniLM-L6-v2) it embeds in process
# with all-MiniLM-L6-v2, likewise.
#
# Settings (environment): COPIES=1 BATCH=100 (files per upload request) SEARCH=lexical
#   EMBED_URL EMBED_MODEL=all-MiniLM-L6-v2 MINILM_DIR DATA=../shared/data/beir-scifact
#   BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=30, KEEP_TMP
#   Any other RAMPART_* variable reaches the server as configuration.
set -euo pipefail

COPIES="${COPIES:-1}"
BATCH="${BATCH:-100}"
EMBED_MODEL="${EMBED_MODEL:-all-MiniLM-L6-v2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${DATA:-$REPO_ROOT/../shared/data/beir-scifact}"
if [[ -n "${EMBED_URL:-}${MINILM_DIR:-}" ]]; then SEARCH="${SEARCH:-lexical,semantic,hybrid}"; else SEARCH="${SEARCH:-lexical}"; fi
[[ -z "${EMBED_URL:-}" || -z "${MINILM_DIR:-}" ]] || { echo "[kb-load] error: EMBED_URL or MINILM_DIR, not both" >&2; exit 1; }

log() { printf '[kb-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$DATA/corpus.jsonl" ]] || die "no BEIR corpus at $DATA (set DATA)"
command -v curl >/dev/null || die "curl is required"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers COPIES BATCH BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
bench_tmp kb

resolve_binary
resolve_tools kb-load

export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
: >"$TMP/rampart.toml"
EMBEDDING=""
if [[ -n "${EMBED_URL:-}" ]]; then
    cat >>"$TMP/rampart.toml" <<EOF
[[models]]
id = "embed"
kind = "embedding"
provider = "openai"
base_url = "$EMBED_URL"
model = "$EMBED_MODEL"
timeout = "600s"
EOF
    EMBEDDING="embed"
    EMBEDDED="$EMBED_MODEL at $EMBED_URL"
elif [[ -n "${MINILM_DIR:-}" ]]; then
    [[ -f "$MINILM_DIR/model.safetensors" ]] || die "no model in MINILM_DIR=$MINILM_DIR (make minilm-model)"
    export RAMPART_KNOWLEDGE__LOCAL_MODEL_DIR="$(cd "$MINILM_DIR" && pwd)"
    EMBEDDING="all-MiniLM-L6-v2"
    EMBEDDED="all-MiniLM-L6-v2 in process"
else
    EMBEDDED="none (lexical only)"
fi
export RAMPART_CONFIG="$TMP/rampart.toml"
bench_user bench@example.com
start_rampart

echo "### kb-load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), SQLite; $(config_env)"
echo "- corpus: $DATA × $COPIES, $BATCH files per upload; embedding model: $EMBEDDED"
echo
BENCH_API_KEY="$API_KEY" run_bg "$TOOLS/kb-load" --base "$BASE" --data "$DATA" --copies "$COPIES" --batch "$BATCH" \
    --embedding-model "$EMBEDDING" --search "$SEARCH"
echo
read -r _ hwm < <(mem_kib "$SERVER_PID")
echo "- server VmHWM after the run: $(mib "$hwm") MiB; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
