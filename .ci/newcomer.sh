#!/usr/bin/env bash
# A newcomer's first minutes: clone HEAD, run the README's first command (`cargo run -- demo`, plus --bind and
# --data-dir so it cannot collide), sign in with the printed password, see the demo key "verified" in the App Store
# wizard, load the lookup the demo suggests, press Ctrl-C and see the demo stop cleanly. Prints `newcomer: 1 passed, 0 failed`; any failure exits 1.
#
# The clone builds into target/newcomer of the main checkout, never target/ itself: a build from another path
# would overwrite target/debug/storedesk under the other engineers' feet. Dependencies stay cached there, so a
# run costs about a minute once the first one (several minutes) has filled it.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
export CARGO_TARGET_DIR=${STOREDESK_NEWCOMER_TARGET_DIR:-$repo/target/newcomer}
build_timeout=${STOREDESK_NEWCOMER_BUILD_TIMEOUT:-1200}   # seconds until the password line, build included

tmp=$(mktemp -d "${TMPDIR:-/tmp}/storedesk-newcomer.XXXXXX")
demo_pid=
stop_demo() {
  [ -n "$demo_pid" ] || return 0
  if kill -0 "$demo_pid" 2>/dev/null; then
    kill -KILL -- "-$demo_pid" 2>/dev/null || kill -KILL "$demo_pid" 2>/dev/null || true
  fi
  wait "$demo_pid" 2>/dev/null || true
  demo_pid=
}
cleanup() { stop_demo; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "newcomer: FAILED: $*" >&2
  for f in demo.out demo.err; do
    if [ -s "$tmp/$f" ]; then echo "--- last lines of $f:" >&2; tail -n 25 "$tmp/$f" >&2; fi
  done
  echo "newcomer: 0 passed, 1 failed"
  exit 1
}

# 1. A fresh clone of HEAD (committed work only, as a newcomer gets it).
git clone -q "$repo" "$tmp/storedesk" || fail "git clone of $repo failed"
cd "$tmp/storedesk"
echo "newcomer: cloned $(git rev-parse --short HEAD) into $tmp/storedesk (build cache: $CARGO_TARGET_DIR)"

# The README's first command, as written there.
grep -q 'cargo run -- demo' README.md || fail "README.md no longer shows \`cargo run -- demo\`"

# 2. `cargo run -q -- demo` in its own process group, as a terminal would run it, so Ctrl-C can reach it the same way.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Created first: the background job opens them itself, maybe after the loop below first reads them.
: >"$tmp/demo.out"; : >"$tmp/demo.err"
setsid cargo run -q -- demo --bind "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/demo.out" 2>"$tmp/demo.err" &
demo_pid=$!
started=$(date +%s)

password=
url=
while :; do
  password=$(sed -n 's/^  Password: \([^ ]*\).*/\1/p' "$tmp/demo.out" | head -n1)
  url=$(sed -n 's/^  Open: *\(http[^ ]*\).*/\1/p' "$tmp/demo.out" | head -n1)
  if [ -n "$password" ] && [ -n "$url" ]; then break; fi
  kill -0 "$demo_pid" 2>/dev/null || fail "\`cargo run -- demo\` exited before printing its password and URL"
  [ $(( $(date +%s) - started )) -lt "$build_timeout" ] || fail "no password line within ${build_timeout}s"
  sleep 0.5
done
base=${url%/login}
[ "$url" = "http://127.0.0.1:$port/login" ] || fail "the demo printed $url, expected http://127.0.0.1:$port/login"
echo "newcomer: demo up at $url after $(( $(date +%s) - started ))s (build included)"

# 3. Sign in like a browser: the form's CSRF token, the cookies, a 303 to the app.
jar=$tmp/cookies.txt
login_page=$(curl -fsS -c "$jar" -b "$jar" "$base/login") || fail "GET /login failed"
csrf=$(printf '%s' "$login_page" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)
[ -n "$csrf" ] || fail "no csrf_token in the login form"
status=$(curl -sS -o "$tmp/login-response.html" -w '%{http_code}' -c "$jar" -b "$jar" \
  --data-urlencode "email=admin@storedesk.local" --data-urlencode "password=$password" \
  --data-urlencode "csrf_token=$csrf" --data-urlencode "next=" "$base/login") || fail "POST /login failed"
[ "$status" = 303 ] || fail "POST /login with the printed password answered $status, expected 303"

# 4. The demo project's App Store wizard shows the simulator-issued key as verified.
page=$(curl -fsS -b "$jar" "$base/projects/demo/settings/stores/apple") \
  || fail "GET /projects/demo/settings/stores/apple failed"
# The wizard's list of steps: each step's link, then its badge.
expected='Step 3 · Server API access</a> <span class="badge badge-good">verified</span>'
if ! grep -qF "$expected" <<<"$page"; then
  got=$(grep -o 'Step 3 · Server API access</a> <span[^<]*</span>' <<<"$page" | head -n1 || true)
  fail "the wizard does not show the key as verified (got: ${got:-no Step 3 line})"
fi

# 4b. The lookup the demo suggests: a support page answered from the simulator's data.
try_url=$(sed -n 's/^  Try: *\(http[^ ]*\).*/\1/p' "$tmp/demo.out" | head -n1)
[ -n "$try_url" ] || fail "the demo printed no \`Try:\` lookup"
lookup_id=${try_url##*q=}
page=$(curl -fsS -b "$jar" "$try_url") || fail "GET $try_url failed"
grep -qF 'Transaction history' <<<"$page" || fail "the lookup page shows no transaction history"
grep -qF "$lookup_id" <<<"$page" || fail "the lookup page does not show $lookup_id"
grep -qF 'Fresh from Apple' <<<"$page" || fail "the lookup page was not answered by the (simulated) Apple"

# 5. Ctrl-C: SIGINT to the process group, a clean exit within 10 s.
kill -INT -- "-$demo_pid" 2>/dev/null || kill -INT "$demo_pid"
stopped=
for _ in $(seq 100); do
  if ! kill -0 "$demo_pid" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
[ -n "$stopped" ] || fail "the demo was still running 10 s after Ctrl-C"
rc=0
wait "$demo_pid" || rc=$?
demo_pid=
[ "$rc" = 0 ] || fail "the demo exited with status $rc after Ctrl-C"

echo "newcomer: signed in, key verified in the wizard, a lookup answered, Ctrl-C stopped the demo cleanly"
echo "newcomer: 1 passed, 0 failed"
