# shellcheck shell=bash
# Shared by edge-load.sh and edge-instructions.sh (sourced after chat-lib.sh): the two server
# configurations compared, and the request both send.

# The X-Origin-Verify secret of the "on" configuration, and the request measured (a query
# string for the WAF to read).
ORIGIN_SECRET="bench-origin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
PATH_Q="/v1/me?view=full&q=annual%20leave%20policy"

# edge_env on|off: the environment of each, one assignment per line.
edge_env() { # on|off -> env assignments, one per line
    echo "RAMPART_EDGE__API_KEY_RATE=1000000000"
    echo "RAMPART_EDGE__API_KEY_BURST=1000000000"
    if [[ "$1" == on ]]; then
        echo "RAMPART_EDGE__WAF_MODE=block"
        echo 'RAMPART_EDGE__ALLOWED_IPV4_RANGES=["10.0.0.0/8","127.0.0.0/8"]'
        echo 'RAMPART_EDGE__ALLOWED_IPV6_RANGES=["::1/128"]'
        echo 'RAMPART_EDGE__DENIED_RANGES=["192.0.2.0/24","2001:db8::/32"]'
        echo "RAMPART_EDGE__IP_RATE_LIMIT=1000000000"
        echo "RAMPART_EDGE__RATE_EXEMPT=[]"
        echo "RAMPART_EDGE__AUTH_RATE_PER_MINUTE=60"
        echo "RAMPART_EDGE__ORIGIN_VERIFY_SECRET=$ORIGIN_SECRET"
        echo 'RAMPART_EDGE__CORS_ORIGINS=["https://app.example.com"]'
    else
        echo "RAMPART_EDGE__WAF_MODE=off"
        echo "RAMPART_EDGE__IP_RATE_LIMIT=0"
        echo "RAMPART_EDGE__AUTH_RATE_PER_MINUTE=0"
    fi
}

# start_with on|off [command prefix…]: start_rampart with that mode's environment.
start_with() {
    local mode=$1
    shift
    local -a envs
    mapfile -t envs < <(edge_env "$mode")
    export "${envs[@]}"
    start_rampart "$@"
    for e in "${envs[@]}"; do unset "${e%%=*}"; done
}
