#!/usr/bin/env bash
# AFL++ for the fuzz campaigns (tests/fuzz, docs/fuzzing.md): cargo-afl from crates.io, which builds its own AFL++
# (the version it is tested with) when it is installed, into ~/.local/share/afl.rs; that build needs a C compiler
# and make. Debian's afl++ package brings afl-fuzz's companions (afl-whatsup, afl-plot) and their man pages; the
# campaigns use cargo-afl's own afl-fuzz. Not part of CI (.ci/run replays the corpora in `cargo test` instead).
set -euo pipefail
CARGO_AFL_VERSION=0.18.2

if ! command -v cc >/dev/null || ! command -v make >/dev/null || ! command -v afl-whatsup >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential afl++ >/dev/null
fi
if [ "$(cargo afl --version 2>/dev/null | awk '{print $2}')" != "$CARGO_AFL_VERSION" ]; then
  cargo install --locked --force cargo-afl --version "$CARGO_AFL_VERSION"
fi
# 0.18 builds AFL++ at install time; `config --build` does it only when that build is missing (e.g. after a
# toolchain update), and otherwise says it is there already.
cargo afl config --build 2>/dev/null || echo "AFL++ for this toolchain is already built"
cargo afl --version
