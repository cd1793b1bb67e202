#!/usr/bin/env bash
# Load benchmark of POST /apple/notifications/{token} (docs/benchmarks.md has the figures).
#
# Builds the release binary, prepares a fresh database with a project for the simulator's app, signs COUNT distinct
# notifications (each with nested signed transaction and renewal info), starts `storedesk serve` trusting the
# simulator's root, runs wrk against it, then checks that the number of stored notifications equals the number of
# 200 answers and reads the server's CPU time and peak and current resident memory.
#
#   benches/webhook-load.sh                       # defaults below (SQLite, one instance)
#   DURATION=30s CONNECTIONS=64 benches/webhook-load.sh
#   WORK=/tmp/wb REUSE=1 benches/webhook-load.sh  # signs once into WORK, later runs start from a copy of that state
#   FORWARD=1 benches/webhook-load.sh             # with a forwarding destination: a loopback receiver answering
#                                                 # 200; reports deliveries/s, the queue left when wrk stops, the
#                                                 # time it takes to drain, and the delay from the webhook's 200 to
#                                                 # the receiver's 200 (delivered_at - received_at, per notification)
#   BACKEND=postgres benches/webhook-load.sh      # on a fresh PostgreSQL database, created on PG_SERVER (default
#                                                 # postgres://postgres@127.0.0.1:5432) under a unique name and
#                                                 # dropped at the end; the signed bodies are still prepared (once,
#                                                 # with REUSE=1) with SQLite into WORK. Also reports the CPU of the
#                                                 # PostgreSQL backends serving the database.
#   BIN=/tmp/storedesk-before benches/webhook-load.sh  # that binary, not built from this tree
#   BACKEND=postgres INSTANCES=2 …                # two `storedesk serve` on that one database, each driven by its
#                                                 # own wrk (CONNECTIONS and THREADS split between them, disjoint
#                                                 # bodies), both started together; rates are summed, each p99 shown
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-60000}          # distinct bodies; must exceed the requests wrk sends
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18089}
WORK=${WORK:-$(mktemp -d /tmp/storedesk-webhook-bench.XXXXXX)}
BACKEND=${BACKEND:-sqlite}
INSTANCES=${INSTANCES:-1}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
case "$BACKEND" in
  sqlite) [ "$INSTANCES" = 1 ] || { echo "INSTANCES > 1 needs BACKEND=postgres" >&2; exit 1; } ;;
  postgres) command -v psql >/dev/null || { echo "psql is needed: apt-get install -y postgresql-client" >&2; exit 1; } ;;
  *) echo "BACKEND is sqlite or postgres" >&2; exit 1 ;;
esac
[ "${FORWARD:-0}" = 1 ] && [ "$BACKEND" != sqlite ] && { echo "FORWARD=1 is measured on SQLite only" >&2; exit 1; }
# BIN=/path/to/storedesk runs another build (e.g. a copy of the one before a change) as it is.
if [ -z "${BIN:-}" ]; then
  BIN=target/release/storedesk
  cargo build --release --bin storedesk
fi
mkdir -p "$WORK"
SQLITE_DB="sqlite://$WORK/bench.db?mode=rwc"

if [ "${REUSE:-0}" = 1 ] && [ -f "$WORK/prepared.db" ] && [ -f "$WORK/token" ]; then
  echo "== reusing the signed notifications in $WORK, on a fresh copy of the prepared database"
  rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
  cp "$WORK/prepared.db" "$WORK/bench.db"
  TOKEN=$(cat "$WORK/token")
else
  echo "== preparing $COUNT signed notifications in $WORK"
  start=$(date +%s)
  TOKEN=$("$BIN" bench-webhook-setup --database-url "$SQLITE_DB" --count "$COUNT" --out-dir "$WORK")
  echo "   done in $(( $(date +%s) - start )) s; $(du -h "$WORK/bodies.txt" | cut -f1) of bodies"
  sqlite3 "$WORK/bench.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  cp "$WORK/bench.db" "$WORK/prepared.db"
  echo "$TOKEN" >"$WORK/token"
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}" ${RPID:-}; do kill "$p" 2>/dev/null || true; done
  if [ -n "${PGDB:-}" ]; then
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    psql "$PG_SERVER/postgres" -qAtc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
  # A database of our own on the shared server: the notifications signed above belong to the simulator's app, so
  # a project for that app (same bundle id and App Apple ID) is all it needs; its token is the database's own.
  PGDB="storedesk_bench_$(date +%s)_$$"
  psql "$PG_SERVER/postgres" -qAtc "CREATE DATABASE $PGDB" >/dev/null
  DB="$PG_SERVER/$PGDB"
  TOKEN=$("$BIN" bench-webhook-setup --database-url "$DB" --count 0 --out-dir "$WORK/pg-setup")
  query() { psql "$DB" -qAtc "$1"; }
  echo "== PostgreSQL database $PGDB on $PG_SERVER ($(psql "$DB" -qAtc 'SHOW synchronous_commit') synchronous_commit)"
else
  DB="$SQLITE_DB"
  query() { sqlite3 "$WORK/bench.db" "$1"; }
fi

KEY=$("$BIN" master-key generate)
if [ "${FORWARD:-0}" = 1 ]; then
  RPORT=$((PORT + 1))
  "$BIN" bench-forward-receiver --bind "127.0.0.1:$RPORT" >"$WORK/receiver.log" 2>&1 &
  RPID=$!
  STOREDESK_MASTER_KEY="$KEY" "$BIN" bench-forward-setup --database-url "$DB" --url "http://127.0.0.1:$RPORT/apple" >/dev/null
  echo "== forwarding to a loopback receiver (pid $RPID) on port $RPORT"
fi

# Instance i listens on PORT + 2i (PORT + 1 is the forwarding receiver's).
port_of() { echo $(( PORT + 2 * $1 )); }
# /metrics answers only with the bearer token (or on STOREDESK_METRICS_BIND).
METRICS_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  STOREDESK_DATABASE_URL="$DB" \
  STOREDESK_DATA_DIR="$WORK" \
  STOREDESK_MASTER_KEY="$KEY" \
  STOREDESK_BIND="127.0.0.1:$(port_of "$i")" \
  STOREDESK_APPLE_PRODUCTION_URL=http://127.0.0.1:9 \
  STOREDESK_APPLE_SANDBOX_URL=http://127.0.0.1:9 \
  STOREDESK_APPLE_EXTRA_ROOTS="$WORK/sim-root.pem" \
  STOREDESK_LOG="${STOREDESK_LOG:-info}" \
  STOREDESK_METRICS_TOKEN="$METRICS_TOKEN" \
    "$BIN" serve >"$WORK/server-$i.log" 2>&1 &
  PIDS+=($!)
done
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$(port_of "$i")/readyz" >/dev/null && break
    sleep 0.1
  done
  echo "== server $i pid ${PIDS[$i]} ready on port $(port_of "$i"); RSS before load: $(grep VmRSS /proc/"${PIDS[$i]}"/status | awk '{print $2 / 1024 " MB"}')"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The PostgreSQL backends serving our database (one per pooled connection), with their CPU ticks so far.
pg_backends() { for p in $(pgrep -f "postgres: .* $PGDB " || true); do echo "$p $(cpu_ticks "$p")"; done; }

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; other work competes for its 2 cores)"
CPU0=()
for p in "${PIDS[@]}"; do CPU0+=("$(cpu_ticks "$p")"); done
[ "$BACKEND" = postgres ] && pg_backends >"$WORK/pg-cpu-before.txt"
WRK_THREADS=$(( THREADS / INSTANCES )); [ "$WRK_THREADS" -ge 1 ] || WRK_THREADS=1
WRK_CONNECTIONS=$(( CONNECTIONS / INSTANCES ))
echo "== per instance: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION --latency -s benches/webhook-load.lua <url> -- bodies.txt $WRK_THREADS <i> $INSTANCES"
WRK_PIDS=()
WRK_FILES=()
rm -f "$WORK"/wrk-*.txt "$WORK"/metrics-*.txt # a run with more instances before would leave its files
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  WRK_FILES+=("$WORK/wrk-$i.txt")
  wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$DURATION" --latency --timeout 10s \
    -s benches/webhook-load.lua "http://127.0.0.1:$(port_of "$i")/apple/notifications/$TOKEN" \
    -- "$WORK/bodies.txt" "$WRK_THREADS" "$i" "$INSTANCES" >"$WORK/wrk-$i.txt" &
  WRK_PIDS+=($!)
done
for p in "${WRK_PIDS[@]}"; do wait "$p"; done
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  [ "$INSTANCES" = 1 ] || echo "-- wrk against instance $i"
  cat "$WORK/wrk-$i.txt"
done

# Requests wrk had in flight when its time ran out still complete on the server; let them.
sleep 1
if [ "${FORWARD:-0}" = 1 ]; then
  pending() { query "SELECT COUNT(*) FROM forward_deliveries WHERE status = 'pending'"; }
  PENDING_AT_END=$(pending)
  drain_start=$(date +%s.%N)
  for _ in $(seq 1 1200); do [ "$(pending)" = 0 ] && break; sleep 0.1; done
  DRAIN_S=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $drain_start}")
fi
CPU1=() HWM=() RSS=()
for p in "${PIDS[@]}"; do
  CPU1+=("$(cpu_ticks "$p")")
  HWM+=("$(awk '/VmHWM/ {print $2}' "/proc/$p/status")")
  RSS+=("$(awk '/VmRSS/ {print $2}' "/proc/$p/status")")
done
if [ "$BACKEND" = postgres ]; then
  pg_backends >"$WORK/pg-cpu-after.txt"
  # Backends that started during the run count from zero.
  PG_TICKS=$(awk 'NR == FNR {before[$1] = $2; next} {t += $2 - before[$1]} END {print t + 0}' \
    "$WORK/pg-cpu-before.txt" "$WORK/pg-cpu-after.txt")
  PG_BACKENDS=$(wc -l <"$WORK/pg-cpu-after.txt")
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/metrics.txt"
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  curl -fs -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$(port_of "$i")/metrics" | grep '^storedesk_notifications_total' >"$WORK/metrics-$i.txt" || true
  cat "$WORK/metrics-$i.txt" >>"$WORK/metrics.txt"
done
for p in "${PIDS[@]}"; do kill -INT "$p"; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
[ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null || true

sum() { awk -v key="$1" '$1 == key {t += $2} END {print t + 0}' "${WRK_FILES[@]}"; }
OK=$(sum status_200)
OTHER=$(sum status_other)
WRAPS=$(sum wraps)
RATE=$(awk '/^Requests\/sec:/ {t += $2} END {printf "%.0f", t}' "${WRK_FILES[@]}")
SERVER_ACCEPTED=$(awk '/outcome="accepted"/ {t += $2} END {print t + 0}' "$WORK/metrics.txt")
SERVER_DUPLICATE=$(awk '/outcome="duplicate"/ {t += $2} END {print t + 0}' "$WORK/metrics.txt")
STORED=$(query "SELECT COUNT(*) FROM notifications")
if [ "$BACKEND" = postgres ]; then
  DISTINCT_NESTED=$(query "SELECT COUNT(DISTINCT (payload::jsonb)->'transaction'->>'signedDate') FROM notifications")
else
  DISTINCT_NESTED=$(query "SELECT COUNT(DISTINCT json_extract(payload, '$.transaction.signedDate')) FROM notifications")
fi
TCK=$(getconf CLK_TCK)
CPU_MS=0
echo "== results ($BACKEND, $INSTANCES instance(s))"
echo "answered 200 (seen by wrk):       $OK ($RATE requests/s, summed over the wrk processes)"
echo "answered otherwise (seen by wrk): $OTHER"
echo "body file wrapped:                $WRAPS times (0 = every request carried a distinct notification)"
echo "server: accepted $SERVER_ACCEPTED, duplicate ${SERVER_DUPLICATE:-0} (its own count of 200 answers)"
echo "stored notifications:             $STORED (distinct nested transaction signedDate: $DISTINCT_NESTED)"
for i in $(seq 0 $(( INSTANCES - 1 ))); do
  ms=$(( (CPU1[i] - CPU0[i]) * 1000 / TCK ))
  CPU_MS=$(( CPU_MS + ms ))
  echo "server $i:                         CPU $ms ms; peak RSS (VmHWM) $(( HWM[i] / 1024 )) MB, RSS at end $(( RSS[i] / 1024 )) MB; p50 $(awk '/^p50_ms/ {print $2}' "$WORK/wrk-$i.txt") ms, p99 $(awk '/^p99_ms/ {print $2}' "$WORK/wrk-$i.txt") ms"
done
echo "server CPU:                       $CPU_MS ms = $(awk "BEGIN {printf \"%.3f\", $CPU_MS / $STORED}") ms per stored notification (all instances)"
if [ "$BACKEND" = postgres ]; then
  PG_MS=$(( PG_TICKS * 1000 / TCK ))
  echo "PostgreSQL backends' CPU:         $PG_MS ms = $(awk "BEGIN {printf \"%.3f\", $PG_MS / $STORED}") ms per stored notification ($PG_BACKENDS backends; its WAL writer and checkpointer not counted)"
fi
echo "load average after:               $LOAD_AFTER"
cat "$WORK/metrics.txt"
if [ "${FORWARD:-0}" = 1 ]; then
  DELIVERED=$(query "SELECT COUNT(*) FROM forward_deliveries WHERE status = 'delivered'")
  QUEUED=$(query "SELECT COUNT(*) FROM forward_deliveries")
  SPAN_MS=$(query "SELECT MAX(delivered_at) - MIN(delivered_at) FROM forward_deliveries WHERE status = 'delivered'")
  query "SELECT fd.delivered_at - n.received_at FROM forward_deliveries fd JOIN notifications n ON n.id = fd.notification_id WHERE fd.status = 'delivered' ORDER BY 1" >"$WORK/delays.txt"
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
echo "count check: ok (stored = servers' accepted count; wrk's 200s <= stored <= wrk's 200s + connections in flight)"
