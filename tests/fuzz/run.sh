#!/usr/bin/env bash
# Fuzzing storedesk's parsers with AFL++ through cargo-afl (stable Rust). See docs/fuzzing.md.
#
#   bash tests/fuzz/run.sh build                      instrumented release build of every target
#   bash tests/fuzz/run.sh seeds                      (re)write the seed corpora from the fixtures
#   bash tests/fuzz/run.sh fuzz TARGET [EXECS]        a campaign: EXECS executions (default 10,000,000)
#   bash tests/fuzz/run.sh cmin TARGET [KEEP]         minimize the campaign's queue into corpus/TARGET/min-*
#   bash tests/fuzz/run.sh stats TARGET               the campaign's figures (fuzzer_stats)
#
# TARGET is p8, jws, webhook or multipart. Campaign output goes to tests/fuzz/out/TARGET (ignored by git);
# crashes land in out/TARGET/default/crashes, hangs in out/TARGET/default/hangs. One campaign uses one core.
# AFL pins each campaign to a free core; a third one at once on this 2-core machine needs AFL_NO_AFFINITY=1.
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
# How many minimized inputs `cmin` keeps per target.
KEEP=${KEEP:-100}

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
    keep=${3:-$KEEP}
    afl_bin=$(ls -d ~/.local/share/afl.rs/rustc-*/afl.rs-*/afl/bin | tail -1)
    rm -rf "out/$target.cmin" "out/$target.maps"
    # The shell afl-cmin: the Python one of AFL++ 4.40c waits for ever on this machine.
    AFL_PATH="$afl_bin" AFL_SKIP_CPUFREQ=1 "$afl_bin/afl-cmin.bash" -i "out/$target/default/queue" \
      -o "out/$target.cmin" -m "$MEMORY_MB" -t "$TIMEOUT_MS" -- "./target/release/$target" >/dev/null
    # Then at most $keep files, greedily, each adding the most edges not yet covered, to keep the corpus small.
    AFL_PATH="$afl_bin" "$afl_bin/afl-showmap" -i "out/$target.cmin" -o "out/$target.maps" -q \
      -m "$MEMORY_MB" -t "$TIMEOUT_MS" -- "./target/release/$target" >/dev/null 2>&1 || true
    find "corpus/$target" -type f -name 'min-*' -delete
    python3 - "out/$target.maps" "out/$target.cmin" "corpus/$target" "$keep" <<'PY'
import os, shutil, sys, hashlib
maps, inputs, corpus, keep = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
edges = {f: {l.split(":")[0] for l in open(os.path.join(maps, f))} for f in os.listdir(maps)}
covered, chosen = set(), []
while edges and len(chosen) < keep:
    best = max(edges, key=lambda f: (len(edges[f] - covered), -os.path.getsize(os.path.join(inputs, f))))
    if not edges[best] - covered:
        break
    covered |= edges.pop(best)
    chosen.append(best)
for f in chosen:
    data = open(os.path.join(inputs, f), "rb").read()
    shutil.copy(os.path.join(inputs, f), os.path.join(corpus, "min-" + hashlib.sha256(data).hexdigest()[:16]))
print(f"{len(chosen)} of {len(os.listdir(inputs))} minimized inputs kept, {len(covered)} edges")
PY
    ;;
  stats)
    target=${2:?target}; check_target "$target"
    grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|corpus_found|saved_crashes|saved_hangs|bitmap_cvg|stability)' \
      "out/$target/default/fuzzer_stats"
    ;;
  *)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac
