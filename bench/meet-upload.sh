#!/usr/bin/env bash
# Upload transcription speed: an audio file of MINUTES minutes of flite speech (sentences with
# pauses, repeated), 16 kHz mono WAV, uploaded through `POST /v1/meetings/upload` and transcribed
# in batch by each engine in ENGINES; the time from the upload's answer to the meeting ending,
# as a multiple of real time, and the finals stored. Prints a markdown report.
#
# Settings (environment): MINUTES=5 ENGINES="whisper passthrough" REPLICAS=2 (speech.replicas)
#   MODEL_DIR (default target/models/whisper-tiny.en) BENCH_BIN, SKIP_BUILD, BUILD_TIMEOUT=3600,
#   STARTUP_TIMEOUT=30, KEEP_TMP. Any other RAMPART_* variable reaches the server.
set -euo pipefail
MINUTES="${MINUTES:-5}"
ENGINES="${ENGINES:-whisper passthrough}"
REPLICAS="${REPLICAS:-2}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
KEEP_TMP="${KEEP_TMP:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL_DIR="${MODEL_DIR:-$REPO_ROOT/target/models/whisper-tiny.en}"
log() { printf '[meet-upload] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for c in curl jq flite sox; do command -v "$c" >/dev/null || die "$c is required (make sysdeps)"; done

# shellcheck source=lib.sh
source "$REPO_ROOT/bench/lib.sh"
whole_numbers MINUTES REPLICAS BUILD_TIMEOUT STARTUP_TIMEOUT
# shellcheck source=chat-lib.sh
source "$REPO_ROOT/bench/chat-lib.sh"
# shellcheck source=meet-lib.sh
source "$REPO_ROOT/bench/meet-lib.sh"
bench_tmp bench
resolve_binary

parts=()
i=0
while IFS= read -r sentence; do
    flite -voice rms -t "$sentence" -o "$TMP/s$i.wav" || die "flite failed"
    sox -n -r 16000 -c 1 -b 16 "$TMP/p$i.wav" trim 0 1.5
    parts+=("$TMP/s$i.wav" "$TMP/p$i.wav")
    i=$((i + 1))
done <<'TEXT'
Good morning everyone, thank you for joining the quarterly planning meeting.
The first item on the agenda is the budget for the new data centre.
We expect the migration to finish before the end of March.
Could you send the revised schedule to the whole team by Friday?
The customer survey shows that response times matter more than new features.
Let us review the security findings and decide who owns each one.
TEXT
sox "${parts[@]}" -r 16000 -c 1 -b 16 "$TMP/round.wav"
round="$(soxi -D "$TMP/round.wav")"
repeats="$(awk -v m="$MINUTES" -v r="$round" 'BEGIN { printf "%d", m * 60 / r + 0.999 }')"
sox "$TMP/round.wav" "$TMP/upload.wav" repeat "$((repeats - 1))"
SECS="$(soxi -D "$TMP/upload.wav")"

rows=()
for engine in $ENGINES; do
    export RAMPART_DATA_DIR="$TMP/data-$engine"
    mkdir -p -m 700 "$RAMPART_DATA_DIR"
    unset RAMPART_DATABASE_URL RAMPART_PUBLIC_URL RAMPART_CONFIG
    export RAMPART_SPEECH__ENGINE="$engine" RAMPART_SPEECH__MODEL_DIR="$MODEL_DIR" RAMPART_SPEECH__REPLICAS="$REPLICAS"
    export RAMPART_MEETINGS__MAX_UPLOAD_BYTES=$((200 * 1024 * 1024))
    meet_users 1
    start_rampart
    meet_logins
    token="$(awk '{ print $3; exit }' "$TMP/creds")"
    log "$engine: uploading $(printf '%.0f' "$SECS") s of speech"
    m="$(curl -s --max-time 300 -H "authorization: Bearer $token" -F "file=@$TMP/upload.wav;type=audio/wav" -F title=bench "$BASE/v1/meetings/upload")"
    id="$(jq -r '.id // empty' <<<"$m")"
    [[ -n "$id" ]] || die "$engine: the upload was refused: $m"
    t0="$(date +%s.%N)"
    enc="$(jq -rn --arg s "$id" '$s | @uri')"
    while :; do
        v="$(curl -s --max-time 30 -H "authorization: Bearer $token" "$BASE/v1/meetings/$enc")"
        [[ "$(jq -r .status <<<"$v")" == processing ]] || break
        sleep 0.5
    done
    t1="$(date +%s.%N)"
    [[ "$(jq -r .status <<<"$v")" == ended ]] || die "$engine: the meeting ended as $(jq -c . <<<"$v")"
    finals="$(curl -s --max-time 60 -H "authorization: Bearer $token" "$BASE/v1/meetings/$enc/transcript" | jq '.segments | length')"
    rows+=("$(awk -v e="$engine" -v s="$SECS" -v a="$t0" -v b="$t1" -v f="$finals" -v r="$(mib "$(mem_kib "$SERVER_PID" | cut -d' ' -f2)")" \
        'BEGIN { printf "| %s | %.1f s | %.1f× real time | %d | %s MiB |", e, b - a, s / (b - a), f, r }')")
    stop_pid "$SERVER_PID" 25
    SERVER_PID=""
done

echo
echo "## meet-upload $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(machine_line); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- rampart: $BIN, SQLite in a fresh data dir, speech.replicas $REPLICAS; a $(printf '%.0f' "$SECS") s 16 kHz mono WAV of flite speech (6 sentences with 1.5 s pauses, repeated)"
echo
echo "| engine | upload answered → meeting ended | speed | finals stored | server VmHWM |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
