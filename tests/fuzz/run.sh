#!/usr/bin/env bash
# Builds the libFuzzer targets (every tests/fuzz/fuzz_*.cpp: chat, gguf, grammar, model, tokenizer)
# with clang (ASan+UBSan) and runs each for a bounded time
# (FUZZ_SECONDS, default 60) on a seed corpus cut from ../shared. Fails on any crash.
# FUZZ_BUILD_DIR (default build-fuzz) may be an existing clang ASan build configured with
# -DLLAMAS_FUZZ=ON (scripts/test.sh passes its build-asan); only the fuzz targets are built then.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${LLAMAS_TEST_DATA:-$root/../shared}
export LLAMAS_TEST_DATA=$data  # the targets that load vocabularies or models find them here
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLAMAS_FUZZ=ON \
  -DLLAMAS_SANITIZE=address -DLLAMAS_TESTS=ON >/dev/null
targets=$(cd "$root/tests/fuzz" && ls fuzz_*.cpp | sed 's/\.cpp$//; s/_/-/')
cmake --build "$build" -j"$(nproc)" --target $targets

for t in $targets; do
  corpus=$build/corpus/$t
  mkdir -p "$corpus"
  seeds=$root/tests/fuzz/seeds/$t
  if [ -x "$seeds.sh" ]; then "$seeds.sh" "$data" "$corpus"; fi
  echo "== $t for ${seconds}s"
  # -max_len keeps inputs small enough for many executions per second; the GGUF header
  # region (metadata, tensor infos) is what the reader parses.
  log=$build/$t.log
  if ! "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/$t-" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzzer $t found a failure (artifacts in $build)"; exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/$t: /"
done
