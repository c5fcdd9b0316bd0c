#!/bin/sh
# call-priava [--once]: every $INTERVAL seconds, fetch the current token from the priava-tokend
# sidecar over its Unix socket and GET $PRIAVA_API_URL with it; on a 401, ask the sidecar for a
# new token and try once more. --once: one call, exit 0 if it got a 2xx/3xx answer.
#   PRIAVA_TOKEND_SOCKET   the sidecar's socket (default /run/priava-tokend/token.sock)
#   PRIAVA_API_URL         the API URL to call (required)
#   PRIAVA_REGION          the TenantRegion header: APAC, EU or US (required)
#   INTERVAL               seconds between calls (default 60)
set -eu
socket=${PRIAVA_TOKEND_SOCKET:-/run/priava-tokend/token.sock}
# PID 1 of its container: without a handler, SIGTERM (docker stop) would be ignored.
trap 'exit 0' TERM INT
: "${PRIAVA_API_URL:?set PRIAVA_API_URL}" "${PRIAVA_REGION:?set PRIAVA_REGION}"

# Asks the sidecar (curl arguments: method and URL) and prints the bare access token.
token() {
    curl --fail --silent --show-error --max-time 60 --unix-socket "$socket" "$@" \
        | jq --exit-status --raw-output .access_token
}

# Calls the API with the token given on stdin; prints the HTTP status. The token reaches curl on
# stdin (--header @-), never on a command line that ps could show.
call() {
    read -r bearer
    printf 'Authorization: Bearer %s\nTenantRegion: %s\n' "$bearer" "$PRIAVA_REGION" \
        | curl --silent --show-error --max-time 30 --header @- --output /dev/null \
               --write-out '%{http_code}' "$PRIAVA_API_URL" || : # 000 when no answer
}

while :; do
    # min_ttl=300: a token with at least 5 minutes left, so it cannot expire during the call.
    if bearer=$(token 'http://localhost/v1/token?min_ttl=300'); then
        status=$(echo "$bearer" | call)
        if [ "$status" = 401 ] && bearer=$(token -X POST http://localhost/v1/token/refresh); then
            # Priava no longer takes that token: the sidecar refreshes (shared by all callers).
            status=$(echo "$bearer" | call)
        fi
        echo "GET $PRIAVA_API_URL -> HTTP $status"
    else
        status=000
        echo "no token from the sidecar at $socket" >&2
    fi
    if [ "${1:-}" = --once ]; then
        [ "$status" -ge 200 ] && [ "$status" -lt 400 ]
        exit
    fi
    sleep "${INTERVAL:-60}" &
    wait $! # unlike a foreground sleep, interrupted by SIGTERM at once
done
