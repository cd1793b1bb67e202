#!/usr/bin/env bash
# Peak memory of `storedesk serve` under 200 sign-ins sent at once (issue 20: the cap on concurrent password
# hashing). Each attempt comes from its own address through a trusted proxy header and names an unknown account, so
# the sign-in throttle never answers first and every attempt costs one argon2 run (19 MiB). Prints the answers'
# status counts and the server's peak RSS (VmHWM).
#   BIN=target/release/storedesk N=200 benches/signin-flood.sh
set -euo pipefail
BIN="${BIN:-target/release/storedesk}"
N="${N:-200}"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export STOREDESK_DATA_DIR="$WORK" STOREDESK_BIND="127.0.0.1:$PORT" STOREDESK_TRUSTED_PROXIES=127.0.0.1 \
  STOREDESK_LOG=warn STOREDESK_ALERTS_INTERVAL=off
STOREDESK_MASTER_KEY="$("$BIN" master-key generate | tail -1)"
export STOREDESK_MASTER_KEY
"$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
# One sign-in page gives the token pair (cookie and field) every attempt sends.
curl -s -c "$WORK/jar" "http://127.0.0.1:$PORT/login" >"$WORK/login.html"
TOKEN="$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' "$WORK/login.html" | head -1)"
grep -q "VmHWM" "/proc/$SERVER/status"
echo "before: $(grep VmHWM "/proc/$SERVER/status")"
seq 1 "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -w '%{http_code}\n' -b "$WORK/jar" \
  -H "X-Forwarded-For: 10.7.$(( RANDOM % 200 )).{}" \
  --data-urlencode "email=nobody{}@example.com" --data-urlencode "password=not a password 123" \
  --data-urlencode "csrf_token=$TOKEN" --data-urlencode "next=" \
  "http://127.0.0.1:$PORT/login" >"$WORK/codes"
sort "$WORK/codes" | uniq -c | sed 's/^/answers: /'
echo "after:  $(grep VmHWM "/proc/$SERVER/status")"
