#!/usr/bin/env bash
# Instructions the server spends per stored notification, counted by callgrind: repeatable on a machine shared with
# other work, where CPU time is not. Runs `storedesk serve` under valgrind on a fresh copy of the SQLite database
# prepared by benches/webhook-load.sh (run that once with WORK=… REUSE=1 first), sends WARMUP notifications
# uncounted (chain cache, statements, first pages), then counts exactly REQUESTS more, sent over CONCURRENCY
# keep-alive connections so that the writer's batches fill as they do under load.
#
#   WORK=/tmp/wb REQUESTS=2000 benches/webhook-callgrind.sh
#   BIN=/tmp/storedesk-before WORK=/tmp/wb benches/webhook-callgrind.sh   # another build, as it is
#
# Prints the instructions per stored notification and the top functions (inclusive) into WORK/callgrind-*.txt.
# Kernel time (writes, fsync, wake-ups) is not counted: `perf stat`/the load script's CPU figure has that.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WORK:?WORK must name a directory prepared by benches/webhook-load.sh}
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-200}
CONCURRENCY=${CONCURRENCY:-32}
PORT=${PORT:-18189}
[ -f "$WORK/prepared.db" ] && [ -f "$WORK/token" ] || { echo "run benches/webhook-load.sh with WORK=$WORK REUSE=1 first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install -y valgrind" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  BIN=target/release/storedesk
  cargo build --release --bin storedesk
fi

DB_FILE="$WORK/callgrind.db"
rm -f "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm" "$WORK"/callgrind.out.*
cp "$WORK/prepared.db" "$DB_FILE"
TOKEN=$(cat "$WORK/token")
STOREDESK_DATABASE_URL="sqlite://$DB_FILE?mode=rwc" \
STOREDESK_DATA_DIR="$WORK" \
STOREDESK_MASTER_KEY="$("$BIN" master-key generate)" \
STOREDESK_BIND="127.0.0.1:$PORT" \
STOREDESK_APPLE_PRODUCTION_URL=http://127.0.0.1:9 \
STOREDESK_APPLE_SANDBOX_URL=http://127.0.0.1:9 \
STOREDESK_APPLE_EXTRA_ROOTS="$WORK/sim-root.pem" \
STOREDESK_LOG="${STOREDESK_LOG:-info}" \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out.%p" \
  "$BIN" serve >"$WORK/callgrind-server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.2
done

send() { # first line (0-based), count
  python3 - "$WORK/bodies.txt" "$1" "$2" "$CONCURRENCY" "$PORT" "/apple/notifications/$TOKEN" <<'EOF'
import http.client, itertools, sys, threading
path, first, count, conns, port, url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
with open(path, "rb") as f:
    bodies = [line.rstrip(b"\n") for line in itertools.islice(f, first, first + count)]
lock, status = threading.Lock(), {}
def work(mine):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for body in mine:
        c.request("POST", url, body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        with lock: status[r.status] = status.get(r.status, 0) + 1
threads = [threading.Thread(target=work, args=(bodies[i::conns],)) for i in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
if status != {200: count}:
    sys.exit(f"answers: {status}, expected {count} times 200")
EOF
}

send 0 "$WARMUP"
callgrind_control -i on "$PID" >/dev/null 2>&1 # counting starts here (instrumentation was off)
send "$WARMUP" "$REQUESTS"
sleep 1 # the writer's last checkpoint
callgrind_control -i off "$PID" >/dev/null 2>&1
callgrind_control -d "$PID" >/dev/null 2>&1
kill -INT "$PID"; wait "$PID" 2>/dev/null || true; trap - EXIT

STORED=$(sqlite3 "$DB_FILE" "SELECT COUNT(*) FROM notifications")
[ "$STORED" = $(( WARMUP + REQUESTS )) ] || { echo "stored $STORED, expected $(( WARMUP + REQUESTS ))" >&2; exit 1; }
OUT="$WORK/callgrind.out.$PID.1" # the dump above (the file without a suffix is the exit's)
IR=$(awk '/^totals:/ {print $2}' "$OUT")
# sed reads to the end: `head` would stop callgrind_annotate with SIGPIPE, a failure under pipefail.
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | sed -n '1,80p' >"$WORK/callgrind-inclusive.txt"
callgrind_annotate "$OUT" 2>/dev/null | sed -n '1,80p' >"$WORK/callgrind-self.txt"
echo "counted $REQUESTS notifications (after $WARMUP uncounted), all stored: $IR instructions"
echo "per stored notification: $(awk "BEGIN {printf \"%.0f\", $IR / $REQUESTS}") instructions"
echo "top functions: $WORK/callgrind-inclusive.txt, $WORK/callgrind-self.txt ($OUT)"
