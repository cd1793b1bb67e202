#!/usr/bin/env bash
# Installs the system packages the build itself needs: OpenSSL's headers and pkg-config, for openssl-sys (used by
# webauthn-rs, the passkeys' crate; see docs/decisions.md). Debian's Rust images have them already; then this does
# nothing.
set -euo pipefail

packages=(libssl-dev pkg-config)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "build-deps: ${packages[*]} already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "build-deps: run as root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "build-deps: installed ${missing[*]}"
