# shellcheck shell=bash
# Shared by edge-instructions.sh and chat-instructions.sh: reading a server's instruction counts
# under valgrind's callgrind (started with --callgrind-out-file="$TMP/cg-<name>.out").

# total FILE: the instruction count of a callgrind dump.
total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# dump MODE LABEL: writes the counters since the last zeroing to a file; prints its name.
dump() {
    local before after f
    before="$(ls "$TMP"/cg-"$1".out.* 2>/dev/null | wc -l)"
    callgrind_control --dump="$2" "$SERVER_PID" >/dev/null 2>&1
    for _ in $(seq 1 600); do
        after="$(ls "$TMP"/cg-"$1".out.* 2>/dev/null | wc -l)"
        ((after > before)) && break
        sleep 0.1
    done
    f="$(ls -t "$TMP"/cg-"$1".out.* | head -n1)"
    # The dump is complete when its totals line is written.
    for _ in $(seq 1 600); do
        grep -q '^totals:' "$f" && break
        sleep 0.1
    done
    echo "$f"
}
