#!/usr/bin/env bash
# Installs what the deployment tests (`cargo test --test api deploy`) run: Debian's Caddy and nginx, the sqlite3
# shell for the online backup, and pg_dump/pg_restore. Idempotent and quiet: does nothing when all are there.
# No service is started while installing (a policy-rc.d says no), so neither package's default site takes port 80
# and a container without systemd installs them cleanly; the tests start their own Caddy and nginx.
set -euo pipefail

packages=(caddy nginx sqlite3)
command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || packages+=(postgresql-client)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deploy-setup: run as root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# One `apt-get update` serves both setup scripts: skip it when the package lists are less than an hour old (the
# browser setup just fetched them).
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 -print -quit 2>/dev/null)" ]; then
  apt-get update -qq >/dev/null
fi
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
fi
trap 'if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deploy-setup: installed ${missing[*]} ($(caddy version | cut -d' ' -f1), $(nginx -v 2>&1 | cut -d' ' -f3))"
