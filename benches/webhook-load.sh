#!/usr/bin/env bash
# Load benchmark of POST /apple/notifications/{token} (docs/benchmarks-webhook.md has the figures).
#
# Builds the release binary, prepares a fresh SQLite database with a project for the simulator's app, signs
# COUNT distinct notifications (each with nested signed transaction and renewal info), starts `storedesk serve`
# trusting the simulator's root, runs wrk against it, then checks that the number of stored notifications
# equals the number of 200 answers and reads the server's peak and current resident memory.
#
#   benches/webhook-load.sh                       # defaults below
#   DURATION=30s CONNECTIONS=64 benches/webhook-load.sh
#   WORK=/tmp/wb REUSE=1 benches/webhook-load.sh  # signs once into WORK, later runs start from a copy of that state
#   FORWARD=1 benches/webhook-load.sh             # with a forwarding destination: a loopback receiver answering
#                                                 # 200; reports deliveries/s, the queue left when wrk stops, the
#                                                 # time it takes to drain, and the delay from the webhook's 200 to
#                                                 # the receiver's 200 (delivered_at - received_at, per notification)
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60000}          # distinct bodies; must exceed the requests wrk sends
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18089}
WORK=${WORK:-$(mktemp -d /tmp/storedesk-webhook-bench.XXXXXX)}
BIN=target/release/storedesk

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --bin storedesk
mkdir -p "$WORK"
DB="sqlite://$WORK/bench.db?mode=rwc"

if [ "${REUSE:-0}" = 1 ] && [ -f "$WORK/prepared.db" ] && [ -f "$WORK/token" ]; then
  echo "== reusing the signed notifications in $WORK, on a fresh copy of the prepared database"
  rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
  cp "$WORK/prepared.db" "$WORK/bench.db"
  TOKEN=$(cat "$WORK/token")
else
  echo "== preparing $COUNT signed notifications in $WORK"
  start=$(date +%s)
  TOKEN=$("$BIN" bench-webhook-setup --database-url "$DB" --count "$COUNT" --out-dir "$WORK")
  echo "   done in $(( $(date +%s) - start )) s; $(du -h "$WORK/bodies.txt" | cut -f1) of bodies"
  sqlite3 "$WORK/bench.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  cp "$WORK/bench.db" "$WORK/prepared.db"
  echo "$TOKEN" >"$WORK/token"
fi

KEY=$("$BIN" master-key generate)
if [ "${FORWARD:-0}" = 1 ]; then
  RPORT=$((PORT + 1))
  "$BIN" bench-forward-receiver --bind "127.0.0.1:$RPORT" >"$WORK/receiver.log" 2>&1 &
  RPID=$!
  STOREDESK_MASTER_KEY="$KEY" "$BIN" bench-forward-setup --database-url "$DB" --url "http://127.0.0.1:$RPORT/apple" >/dev/null
  echo "== forwarding to a loopback receiver (pid $RPID) on port $RPORT"
fi

STOREDESK_DATABASE_URL="$DB" \
STOREDESK_DATA_DIR="$WORK" \
STOREDESK_MASTER_KEY="$KEY" \
STOREDESK_BIND="127.0.0.1:$PORT" \
STOREDESK_APPLE_EXTRA_ROOTS="$WORK/sim-root.pem" \
STOREDESK_LOG="${STOREDESK_LOG:-info}" \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID ${RPID:-} 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
echo "== server pid $PID ready; RSS before load: $(grep VmRSS /proc/$PID/status | awk '{print $2 / 1024 " MB"}')"

URL="http://127.0.0.1:$PORT/apple/notifications/$TOKEN"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; other work competes for its 2 cores)"
CPU0=$(awk '{print $14 + $15}' /proc/$PID/stat)
echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s benches/webhook-load.lua <url> -- bodies.txt $THREADS"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency --timeout 10s \
  -s benches/webhook-load.lua "$URL" -- "$WORK/bodies.txt" "$THREADS" | tee "$WORK/wrk.txt"

# Requests wrk had in flight when its time ran out still complete on the server; let them.
sleep 1
if [ "${FORWARD:-0}" = 1 ]; then
  pending() { sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM forward_deliveries WHERE status = 'pending'"; }
  PENDING_AT_END=$(pending)
  drain_start=$(date +%s.%N)
  for _ in $(seq 1 1200); do [ "$(pending)" = 0 ] && break; sleep 0.1; done
  DRAIN_S=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $drain_start}")
fi
CPU1=$(awk '{print $14 + $15}' /proc/$PID/stat)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
HWM=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
RSS=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
curl -fs "http://127.0.0.1:$PORT/metrics" | grep '^storedesk_notifications_total' >"$WORK/metrics.txt" || true
kill -INT $PID
wait $PID 2>/dev/null || true
[ -n "${RPID:-}" ] && kill $RPID 2>/dev/null || true
trap - EXIT

OK=$(awk '/^status_200/ {print $2}' "$WORK/wrk.txt")
OTHER=$(awk '/^status_other/ {print $2}' "$WORK/wrk.txt")
WRAPS=$(awk '/^wraps/ {print $2}' "$WORK/wrk.txt")
SERVER_ACCEPTED=$(awk -F' ' '/outcome="accepted"/ {print $2}' "$WORK/metrics.txt")
SERVER_DUPLICATE=$(awk -F' ' '/outcome="duplicate"/ {print $2}' "$WORK/metrics.txt")
STORED=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM notifications")
DISTINCT_NESTED=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(DISTINCT json_extract(payload, '$.transaction.signedDate')) FROM notifications")
CPU_MS=$(( (CPU1 - CPU0) * 1000 / $(getconf CLK_TCK) ))
echo "== results"
echo "answered 200 (seen by wrk):       $OK"
echo "answered otherwise (seen by wrk): $OTHER"
echo "body file wrapped:                $WRAPS times (0 = every request carried a distinct notification)"
echo "server: accepted $SERVER_ACCEPTED, duplicate ${SERVER_DUPLICATE:-0} (its own count of 200 answers)"
echo "stored notifications:             $STORED (distinct nested transaction signedDate: $DISTINCT_NESTED)"
echo "server CPU:                       $CPU_MS ms = $(awk "BEGIN {printf \"%.3f\", $CPU_MS / $STORED}") ms per stored notification"
echo "server memory:                    peak RSS (VmHWM) $(( HWM / 1024 )) MB, RSS at end $(( RSS / 1024 )) MB"
echo "load average after:               $LOAD_AFTER"
cat "$WORK/metrics.txt"
if [ "${FORWARD:-0}" = 1 ]; then
  DELIVERED=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM forward_deliveries WHERE status = 'delivered'")
  QUEUED=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM forward_deliveries")
  SPAN_MS=$(sqlite3 "$WORK/bench.db" "SELECT MAX(delivered_at) - MIN(delivered_at) FROM forward_deliveries WHERE status = 'delivered'")
  sqlite3 "$WORK/bench.db" "SELECT fd.delivered_at - n.received_at FROM forward_deliveries fd JOIN notifications n ON n.id = fd.notification_id WHERE fd.status = 'delivered' ORDER BY 1" >"$WORK/delays.txt"
  pct() { awk -v p="$1" '{a[NR] = $1} END {i = int(NR * p / 100); if (i < 1) i = 1; print a[i]}' "$WORK/delays.txt"; }
  echo "forwarding: queued $QUEUED, delivered $DELIVERED ($(awk "BEGIN {printf \"%.0f\", $DELIVERED * 1000 / ($SPAN_MS + 1)}")/s from first to last delivery)"
  echo "forwarding: pending when wrk stopped $PENDING_AT_END, drained ${DRAIN_S} s later"
  echo "forwarding: delay from the webhook's 200 to the receiver's 200: p50 $(pct 50) ms, p90 $(pct 90) ms, p99 $(pct 99) ms, max $(pct 100) ms"
  [ "$DELIVERED" = "$QUEUED" ] || { echo "NOT EVERY NOTIFICATION WAS DELIVERED" >&2; exit 1; }
  [ "$QUEUED" = "$STORED" ] || { echo "NOT EVERY NOTIFICATION WAS QUEUED" >&2; exit 1; }
fi
# Every 200 the server sent is a stored row; wrk saw all of them except those in flight when its clock ran out.
FAIL=0
[ "$STORED" = "$SERVER_ACCEPTED" ] || FAIL=1
if [ "$WRAPS" = "0" ]; then
  { [ "$STORED" -ge "$OK" ] && [ "$STORED" -le $(( OK + CONNECTIONS )) ]; } || FAIL=1
fi
if [ "$FAIL" != 0 ]; then
  echo "COUNT MISMATCH" >&2
  exit 1
fi
echo "count check: ok (stored = server's accepted count; wrk's 200s <= stored <= wrk's 200s + connections in flight)"
