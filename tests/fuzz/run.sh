#!/usr/bin/env bash
# Fuzzing storedesk's parsers with AFL++ through cargo-afl (stable Rust). See docs/fuzzing.md.
#
#   bash tests/fuzz/run.sh build                      instrumented release build of every target
#   bash tests/fuzz/run.sh seeds                      (re)write the seed corpora from the fixtures
#   bash tests/fuzz/run.sh fuzz TARGET [EXECS]        a campaign: EXECS executions (default 10,000,000)
#   bash tests/fuzz/run.sh cmin TARGET                minimize the campaign's queue into corpus/TARGET
#   bash tests/fuzz/run.sh stats TARGET               the campaign's figures (fuzzer_stats)
#
# TARGET is p8, jws, webhook or multipart. Campaign output goes to tests/fuzz/out/TARGET (ignored by git);
# crashes land in out/TARGET/default/crashes, hangs in out/TARGET/default/hangs. One campaign uses one core.
# Setup (AFL++ through cargo-afl): bash .ci/fuzz-setup.sh
set -euo pipefail
cd "$(dirname "$0")"

targets="p8 jws webhook multipart"
check_target() {
  case " $targets " in
    *" $1 "*) ;;
    *) echo "unknown target '$1': one of $targets" >&2; exit 2 ;;
  esac
}

# afl-fuzz's memory limit in MB (RLIMIT_AS on the target): the backstop for memory the allocator cap
# (src/cap_alloc.rs: 16 MiB per allocation, 64 MiB live) does not see.
MEMORY_MB=${MEMORY_MB:-512}
# A run of one input longer than this (ms) is recorded as a hang.
TIMEOUT_MS=${TIMEOUT_MS:-1000}

case "${1:-}" in
  build)
    cargo afl build --release --bins
    ;;
  seeds)
    cargo afl build --release --bin seeds
    ./target/release/seeds
    ;;
  fuzz)
    target=${2:?target}; check_target "$target"
    execs=${3:-10000000}
    mkdir -p out
    # The machine's core_pattern and CPU governor are not ours to change; AFL's checks of them are skipped.
    AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_AUTORESUME=1 \
      cargo afl fuzz -i "corpus/$target" -o "out/$target" -E "$execs" -m "$MEMORY_MB" -t "$TIMEOUT_MS" \
      -- "./target/release/$target"
    ;;
  cmin)
    target=${2:?target}; check_target "$target"
    rm -rf "out/$target.cmin"
    AFL_SKIP_CPUFREQ=1 cargo afl cmin -i "out/$target/default/queue" -o "out/$target.cmin" \
      -m "$MEMORY_MB" -t "$TIMEOUT_MS" -- "./target/release/$target"
    # Seeds stay as they are; the minimized queue replaces the earlier minimized files.
    find "corpus/$target" -type f ! -name 'seed-*' -delete
    for f in "out/$target.cmin"/*; do
      cp "$f" "corpus/$target/min-$(sha256sum "$f" | cut -c1-16)"
    done
    ls "corpus/$target" | wc -l
    ;;
  stats)
    target=${2:?target}; check_target "$target"
    grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|corpus_found|saved_crashes|saved_hangs|bitmap_cvg|stability)' \
      "out/$target/default/fuzzer_stats"
    ;;
  *)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
