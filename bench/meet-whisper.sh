#!/usr/bin/env bash
# Live meetings with the embedded recogniser (Whisper tiny.en, int8) until it falls behind real
# time: issue 15's capacity figure. Starts `rampart serve` (speech.engine = "whisper"), then for
# each count in STEPS runs bench-tools' meet-load with that many concurrent two-channel meetings
# of flite speech (sentences with pauses, both channels speaking; see meet-load --wav), each
# followed on its realtime channel. Per step: the end of each utterance → its final segment at
# the subscriber (p50/p99/max), the server's CPU per second of channel audio (the real-time
# factor, per core), peak memory. A step keeps up when no meeting failed, every final received
# was stored and p99 stays under LAG_LIMIT seconds. Prints a markdown report.
#
# Settings (environment): STEPS="1 2 4 8" REPLICAS=2 (speech.replicas: decodes at once)
#   THREADS=1 (per decode) PARTIAL=1s (speech.partial_interval; 0s = finals only) LAG_LIMIT=5
#   MODEL_DIR (default target/models/whisper-tiny.en, from `make whisper-model`) PER_USER=4
#   SAMPLE_INTERVAL=0.5  BENCH_BIN, SKIP_BUILD, BENCH_TOOLS_DIR, BUILD_TIMEOUT=3600,
#   STARTUP_TIMEOUT=30, BENCH_LOG, KEEP_TMP. Any other RAMPART_* variable reaches the server.
set -euo pipefail

STEPS="${STEPS:-1 2 4 8}"
REPLICAS="${REPLICAS:-2}"
THREADS="${THREADS:-1}"
PARTIAL="${PARTIAL:-1s}"
LAG_LIMIT="${LAG_LIMIT:-5}"
PER_USER="${PER_USER:-4}"
SAMPLE_INTERVAL="${SAMPLE_INTERVAL:-0.5}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
if [[ -n "${BENCH_LOG:-}" ]]; then
    export RAMPART_LOG="$BENCH_LOG"
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL_DIR="${MODEL_DIR:-$REPO_ROOT/target/models/whisper-tiny.en}"

log() { printf '[meet-whisper] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for c in curl jq flite sox; do command -v "$c" >/dev/null || die "$c is required (make sysdeps)"; done
[[ -f "$MODEL_DIR/model.bin" ]] || die "no Whisper model in $MODEL_DIR (make whisper-model)"

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers REPLICAS THREADS PER_USER BUILD_TIMEOUT STARTUP_TIMEOUT LAG_LIMIT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=meet-lib.sh
source "$REPO_ROOT/bench/meet-lib.sh"
bench_tmp bench
resolve_binary
resolve_tools meet-load

# The speech: a meeting's sentences, each followed by 1.5 s of silence, 16 kHz mono.
SENTENCES=(
    "Good morning everyone, thank you for joining the quarterly planning meeting."
    "The first item on the agenda is the budget for the new data centre."
    "We expect the migration to finish before the end of March."
    "Could you send the revised schedule to the whole team by Friday?"
    "The customer survey shows that response times matter more than new features."
    "Let us review the security findings and decide who owns each one."
    "I will summarise the action items and share them after the call."
)
parts=()
for i in "${!SENTENCES[@]}"; do
    flite -voice rms -t "${SENTENCES[$i]}" -o "$TMP/s$i.wav" || die "flite failed"
    sox -n -r 16000 -c 1 -b 16 "$TMP/pause$i.wav" trim 0 1.5
    parts+=("$TMP/s$i.wav" "$TMP/pause$i.wav")
done
sox "${parts[@]}" -r 16000 -c 1 -b 16 "$TMP/speech.wav" || die "sox failed"
AUDIO_SECS="$(soxi -D "$TMP/speech.wav")"

max=0
for n in $STEPS; do ((n > max)) && max=$n; done
USERS=$(((max + PER_USER - 1) / PER_USER))
export RAMPART_DATA_DIR="$TMP/data"
mkdir -p -m 700 "$RAMPART_DATA_DIR"
unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL RAMPART_CONFIG
export RAMPART_SPEECH__ENGINE=whisper RAMPART_SPEECH__MODEL_DIR="$MODEL_DIR"
export RAMPART_SPEECH__REPLICAS="$REPLICAS" RAMPART_SPEECH__THREADS="$THREADS" RAMPART_SPEECH__PARTIAL_INTERVAL="$PARTIAL"
export RAMPART_MEETINGS__MAX_LIVE_PER_USER="$PER_USER" RAMPART_MEETINGS__MAX_LIVE="$((max + 10))"
export RAMPART_MEETINGS__FINAL_TIMEOUT="${RAMPART_MEETINGS__FINAL_TIMEOUT:-300s}"
export RAMPART_REALTIME__MAX_CONNECTIONS_PER_USER="$((PER_USER * 2 + 8))"
meet_users "$USERS"
start_rampart
meet_logins
MEM_IDLE="$(mem_kib "$SERVER_PID")"
read -r idle_rss _ <<<"$MEM_IDLE"

rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo
echo "## meet-whisper $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); meet-load and server on the same host; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN (repository at git $rev), SQLite in a fresh data dir, Whisper tiny.en int8, $REPLICAS decodes at once × $THREADS thread, partials every $PARTIAL; configuration from the environment: $(config_env)"
echo "- each meeting: $(printf '%.1f' "$AUDIO_SECS") s of flite speech (${#SENTENCES[@]} sentences with 1.5 s pauses) on both channels (channel 1 rotated by half), 16 kHz, real-time pace, followed on its realtime channel; the model is loaded by the first step"
echo
echo "| meetings | finals received / stored | end of utterance → final p50 / p99 / max | server CPU per second of channel audio | peak VmRSS | keeps up |"
echo "|---:|---|---|---:|---:|---|"
for n in $STEPS; do
    meet_sampler "$TMP/samples-$n"
    T0="$(ticks "$SERVER_PID")"
    log "step: $n meetings"
    rc=0
    run_bg timeout $((${AUDIO_SECS%.*} * 20 + 600)) "$TOOLS/meet-load" --base "$BASE" --creds "$TMP/creds" --meetings "$n" \
        --wav "$TMP/speech.wav" --stagger 0.2 >"$TMP/meet-$n.out" 2>"$TMP/meet-$n.err" || rc=$?
    CPU_TICKS=$(($(ticks "$SERVER_PID") - T0))
    cleanup_extra
    ((rc == 0)) || { cat "$TMP/meet-$n.out" "$TMP/meet-$n.err" >&2; die "meet-load failed (exit $rc)"; }
    declare -A R=()
    meet_result "$TMP/meet-$n.out" || { cat "$TMP/meet-$n.out" >&2; die "no result from meet-load"; }
    peak="$(awk '{ if ($1 > r) r = $1 } END { print r + 0 }' "$TMP/samples-$n")"
    ok=yes
    { ((R[failed] > 0)) || ((R[received] != R[stored])) || awk -v p="${R[p99_ms]}" -v l="$LAG_LIMIT" 'BEGIN { exit !(p / 1000 >= l) }'; } && ok=no
    awk -v n="$n" -v k="$CPU_TICKS" -v hz="$CLK_TCK" -v a="$AUDIO_SECS" -v rec="${R[received]}" -v st="${R[stored]}" \
        -v p50="${R[p50_ms]}" -v p99="${R[p99_ms]}" -v mx="${R[max_ms]}" -v pk="$(mib "$peak")" -v ok="$ok" -v f="${R[failed]}" \
        'BEGIN { printf "| %d%s | %d / %d | %.2f / %.2f / %.2f s | %.3f | %s MiB | %s |\n", n, (f > 0 ? " (" f " failed)" : ""), rec, st, p50 / 1000, p99 / 1000, mx / 1000, k / hz / (n * 2 * a), pk, ok }'
done
echo
echo "Idle VmRSS before the first step (model not yet loaded): $(mib "$idle_rss") MiB. The real-time factor per core is the server's CPU seconds (recognition, pipeline, storage) per second of one channel's audio; 1 / it is the channels one core keeps up with when decoding is the bottleneck."
