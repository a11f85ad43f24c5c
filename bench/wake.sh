#!/usr/bin/env bash
# The meeting assistant's wake phrase, platform time only (issue 17): from the wake phrase's
# final segment on the meeting's realtime channel to the assistant's "Checking…" and to the
# first AGENT_ASSISTANT segment with answer text. Starts bench-tools' fake-upstream as both the
# transcription server (speech.engine = "openai"; it answers CONTEXT_TEXT and QUESTION_TEXT in
# turn) and the chat model (the default assistant's; 20 tokens, CHUNK_DELAY_MS before each, 0 by
# default), starts `rampart serve`, creates one user offline, signs in, and runs bench-tools'
# wake-latency: MEETINGS meetings one after another, each asking QUESTIONS questions one at a
# time (flite speech of the two sentences, sent as fast as the socket takes it). Prints a
# markdown report.
#
# Settings (environment): MEETINGS=20 QUESTIONS=10 CHUNK_DELAY_MS=0 CONTEXT_TEXT QUESTION_TEXT
#   BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600, STARTUP_TIMEOUT=60, BENCH_LOG,
#   KEEP_TMP. Any other RAMPART_* variable reaches the server as configuration.
set -euo pipefail

MEETINGS="${MEETINGS:-20}"
QUESTIONS="${QUESTIONS:-10}"
CHUNK_DELAY_MS="${CHUNK_DELAY_MS:-0}"
CONTEXT_TEXT="${CONTEXT_TEXT:-The portal budget is forty thousand euros.}"
QUESTION_TEXT="${QUESTION_TEXT:-Okay assistant, what is the budget?}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-60}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[wake] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for c in curl jq flite sox; do command -v "$c" >/dev/null || die "$c is required (make sysdeps)"; done

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MEETINGS QUESTIONS BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=meet-lib.sh
source "$REPO_ROOT/bench/meet-lib.sh"
bench_tmp wake
resolve_binary
resolve_tools fake-upstream wake-latency

# Each utterance: the sentence spoken by flite, then 1 s of silence (the recogniser's pause,
# 500 ms, closes it).
speak() {
    flite -voice rms -t "$1" -o "$TMP/raw-$2.wav" || die "flite failed"
    sox "$TMP/raw-$2.wav" -r 16000 -c 1 -b 16 "$TMP/$2.wav" pad 0 1.0 || die "sox failed"
}
speak "$CONTEXT_TEXT" context
speak "$QUESTION_TEXT" question

start_upstream --chunk-delay-ms "$CHUNK_DELAY_MS" --stt-text "$CONTEXT_TEXT" --stt-text "$QUESTION_TEXT"
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL
fake_model_config "$TMP/rampart.toml" default
export RAMPART_CONFIG="$TMP/rampart.toml"
# One request at a time to the recogniser keeps its answers in the order they are asked for.
export RAMPART_SPEECH__ENGINE=openai RAMPART_SPEECH__OPENAI_BASE_URL="$UPSTREAM_URL" \
    RAMPART_SPEECH__OPENAI_MODEL=whisper-1 RAMPART_SPEECH__OPENAI_MAX_CONCURRENT=1

meet_users 1
start_rampart
meet_logins

LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
T0="$(ticks "$SERVER_PID")"
log "wake-latency: $MEETINGS meetings × $QUESTIONS questions"
rc=0
run_bg timeout $((MEETINGS * QUESTIONS * 10 + 300)) "$TOOLS/wake-latency" --base "$BASE" --creds "$TMP/creds" \
    --meetings "$MEETINGS" --questions "$QUESTIONS" --context "$TMP/context.wav" --question "$TMP/question.wav" \
    --context-text "$CONTEXT_TEXT" --question-text "$QUESTION_TEXT" --answer-starts-with "token0 token1" >"$TMP/wake.out" 2>"$TMP/wake.err" || rc=$?
CPU_TICKS=$(($(ticks "$SERVER_PID") - T0))
((rc == 0)) || { cat "$TMP/wake.out" "$TMP/wake.err" >&2; die "wake-latency failed (exit $rc)"; }
declare -A R
result="$(awk '$1 == "WAKE_RESULT" { $1 = ""; print substr($0, 2) }' "$TMP/wake.out")"
[[ -n "$result" ]] || { cat "$TMP/wake.out" "$TMP/wake.err" >&2; die "no result from wake-latency"; }
for kv in $result; do R[${kv%%=*}]="${kv#*=}"; done

rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## wake $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); wake-latency, fake-upstream and server on the same host; load average at start: $LOAD_AT_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $rev), SQLite in a fresh data dir; configuration from the environment: $(config_env)"
echo "- fake-upstream as the recogniser (\"$CONTEXT_TEXT\", \"$QUESTION_TEXT\" in turn) and as the default assistant's model (streamed, 20 tokens, ${CHUNK_DELAY_MS} ms before each)"
echo "- $MEETINGS mono meetings one after another × $QUESTIONS questions each, one at a time; flite speech sent as fast as the socket takes it; times taken at the meeting's realtime subscriber from the wake phrase's final"
echo
echo "| measure | p50 ms | p99 ms |"
echo "|---|---:|---:|"
echo "| wake phrase's final → \"Checking…\" | ${R[checking_p50_ms]} | ${R[checking_p99_ms]} |"
echo "| wake phrase's final → first answer text (${R[partial_first]} of ${R[answered]} as a partial, the rest the final) | ${R[first_p50_ms]} | ${R[first_p99_ms]} |"
echo "| wake phrase's final → the answer's final | ${R[done_p50_ms]} | ${R[done_p99_ms]} |"
echo
echo "questions answered: ${R[answered]}; meetings failed: ${R[failed]}; server CPU over the run: $(awk -v k="$CPU_TICKS" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f s", k / hz }')"
