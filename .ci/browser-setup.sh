#!/usr/bin/env bash
# Installs Debian's Chromium and chromedriver (and a font for readable screenshots) for the browser tests,
# `cargo test --test browser`. Idempotent and quiet: does nothing when they are already installed.
set -euo pipefail

packages=(chromium chromium-driver fonts-liberation)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "browser-setup: run as root to install: ${packages[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "browser-setup: installed ${missing[*]:-${packages[*]}} ($(/usr/bin/chromedriver --version | cut -d' ' -f1-2))"
