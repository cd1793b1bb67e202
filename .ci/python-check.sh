#!/usr/bin/env bash
# Apple's official App Store Server Library (Python, pinned in tests/python/requirements.txt) against
# `storedesk apple-sim`: every endpoint the library calls, every signed item verified with its SignedDataVerifier
# trusting only the simulator's root. Last line: `python-check: N passed, M failed`; exit 1 on any failure.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
venv=$target_dir/python-venv

fail() { echo "python-check: $*" >&2; echo "python-check: 0 passed, 1 failed"; exit 1; }

# 1. The venv (idempotent; pip only speaks up on errors).
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || fail "could not create a venv at $venv (is python3-venv installed?)"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt \
  || fail "pip install -r tests/python/requirements.txt failed"

# 2. The binary.
cargo build -q --bin storedesk || fail "cargo build --bin storedesk failed"
bin=$target_dir/debug/storedesk

# 3. The simulator, on a free port, stopped on any exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/storedesk-python-check.XXXXXX")
sim_pid=
cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -INT "$sim_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" apple-sim --bind "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!

field() { sed -n "s/^  $1: *//p" "$tmp/sim.out" | head -n1; }
for _ in $(seq 100); do
  if [ -n "$(field 'Seed ids')" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/sim/seed"; then break; fi
  kill -0 "$sim_pid" 2>/dev/null || { cat "$tmp/sim.err" >&2; fail "the simulator exited during start"; }
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/sim/seed" || { cat "$tmp/sim.out" "$tmp/sim.err" >&2; fail "the simulator did not answer on port $port within 10 s"; }

key_id=$(field 'Key ID')
issuer_id=$(field 'Issuer ID')
key_file=$(field 'Private key (.p8)')
root_cert=$(field 'Root certificate' | sed 's/ (trust it only for the simulator)$//')
for v in key_id issuer_id key_file root_cert; do
  [ -n "${!v}" ] || { cat "$tmp/sim.out" >&2; fail "could not read $v from the simulator's output"; }
done
[ -f "$key_file" ] && [ -f "$root_cert" ] || fail "the simulator did not write $key_file / $root_cert"

# 4. The checks.
"$venv/bin/python" tests/python/check_simulator.py \
  --sim "http://127.0.0.1:$port" --key-id "$key_id" --issuer-id "$issuer_id" \
  --key-file "$key_file" --root-cert "$root_cert"
