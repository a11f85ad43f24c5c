# shellcheck shell=bash
# Shared by meet-load.sh and meet-whisper.sh (sourced after lib.sh and chat-lib.sh).

# meet_users COUNT: creates COUNT users offline (before the server opens the database) into
# $TMP/users (`<userId> <email>` lines), with one random password.
meet_users() {
    PASSWORD="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    log "creating $1 users offline"
    : >"$TMP/users"
    local i email uid
    for ((i = 1; i <= $1; i++)); do
        email="meet$i@example.com"
        uid="$(printf '%s\n' "$PASSWORD" | timeout 60 "$BIN" user add --email "$email" --password-stdin 2>>"$TMP/cli.log")" \
            || { tail -n 5 "$TMP/cli.log" >&2; die "rampart user add $email failed"; }
        printf '%s %s\n' "$uid" "$email" >>"$TMP/users"
    done
}

# meet_logins: signs every user of $TMP/users in (the server running at $BASE) into $TMP/creds
# (`<userId> bearer <accessToken>` lines, mode 600), as meet-load reads them.
meet_logins() {
    : >"$TMP/creds"
    chmod 600 "$TMP/creds"
    local uid email body token
    while read -r uid email; do
        body="$(jq -cn --arg u "$email" --arg p "$PASSWORD" '{username: $u, password: $p}')"
        token="$(curl -s --max-time 30 -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' -d "$body" | jq -r '.accessToken // empty')"
        [[ -n "$token" ]] || die "login of $email gave no accessToken"
        printf '%s bearer %s\n' "$uid" "$token" >>"$TMP/creds"
    done <"$TMP/users"
}

# meet_sampler FILE: samples the server's memory (mem_kib) into FILE every SAMPLE_INTERVAL
# seconds in the background; sets SAMPLER_PID (stopped by cleanup_extra).
SAMPLER_PID=""
cleanup_extra() {
    if [[ -n "$SAMPLER_PID" ]]; then stop_pid "$SAMPLER_PID" 2; fi
    SAMPLER_PID=""
}
meet_sampler() {
    (while kill -0 "$SERVER_PID" 2>/dev/null; do
        mem_kib "$SERVER_PID"
        sleep "$SAMPLE_INTERVAL"
    done) >"$1" &
    SAMPLER_PID=$!
}

# meet_result FILE: the key=value pairs of meet-load's MEET_RESULT line in FILE into the
# associative array R (declared by the caller).
meet_result() {
    local result kv
    result="$(awk '$1 == "MEET_RESULT" { $1 = ""; print substr($0, 2) }' "$1")"
    [[ -n "$result" ]] || return 1
    for kv in $result; do R[${kv%%=*}]="${kv#*=}"; done
}
