#!/bin/sh
# call-priava [--once]: every $INTERVAL seconds, call the Priava API through the priava-tokend
# sidecar's proxy over its Unix socket. The sidecar adds the token and the TenantRegion, keeps the
# call inside the credential's one rate budget, and deals with Priava's 401 and 429 itself: the
# app holds no token and no region. --once: one call, exit 0 if it got a 2xx/3xx answer.
#   PRIAVA_TOKEND_SOCKET   the sidecar's socket (default /run/priava-tokend/token.sock)
#   PRIAVA_API_PATH        the API path below Priava's REST base to call, e.g. events (required)
#   INTERVAL               seconds between calls (default 60)
set -eu
socket=${PRIAVA_TOKEND_SOCKET:-/run/priava-tokend/token.sock}
# PID 1 of its container: without a handler, SIGTERM (docker stop) would be ignored.
trap 'exit 0' TERM INT
: "${PRIAVA_API_PATH:?set PRIAVA_API_PATH}"

while :; do
    # --max-time: the proxy may hold a call while the budget is spent (proxy.max_queue_wait).
    status=$(curl --silent --show-error --max-time 120 --unix-socket "$socket" \
                  --output /dev/null --write-out '%{http_code}' \
                  "http://localhost/v1/proxy/$PRIAVA_API_PATH") || status=000
    echo "GET $PRIAVA_API_PATH via the sidecar -> HTTP $status"
    if [ "${1:-}" = --once ]; then
        [ "$status" -ge 200 ] && [ "$status" -lt 400 ]
        exit
    fi
    sleep "${INTERVAL:-60}" &
    wait $! # unlike a foreground sleep, interrupted by SIGTERM at once
done
