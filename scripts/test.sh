#!/usr/bin/env bash
# The whole test suite: set up, build with -Werror, run every test; then the same tests under
# ASan+UBSan (one clang build that also holds the libFuzzer targets and the avx2-vnni and avx512
# tables emulated), the threaded ones under
# TSan, the Arm build under qemu, and the fuzzers for a bounded time. Exit status is non-zero on
# any failure. Each stage prints the minutes so far.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export LLAMAS_TEST_DATA=${LLAMAS_TEST_DATA:-$root/../shared}
jobs=$(nproc)
stage() { printf '== %s   [%d:%02d since the start]\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }
"$root/scripts/setup.sh"

stage "release build and tests"
BUILD_DIR=$root/build "$root/scripts/build.sh" -DLLAMAS_WERROR=ON
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

stage "bindings (Go, Rust, C#, Python) against build/libllamas.so"
LLAMAS_BUILD_DIR=$root/build "$root/bindings/run_all.sh"

stage "llamas-server: the openai npm client and curl on loopback, 64 streaming clients"
"$root/tests/server/run.sh" "$root/build"

# LLAMAS_EMULATE_X86: this build also holds the avx2-vnni and avx512 tables through simde's
# emulation (docs/DESIGN.md), so the kernel tests check them against the scalar oracle on any
# AVX2 machine, with their loads under ASan.
stage "ASan+UBSan build (clang, with the fuzz targets and the emulated x86 tables) and tests"
CC=clang CXX=clang++ BUILD_DIR=$root/build-asan BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" \
  -DLLAMAS_WERROR=ON -DLLAMAS_SANITIZE=address -DLLAMAS_FUZZ=ON -DLLAMAS_EMULATE_X86=ON
asan_env=(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1)
(cd "$root/build-asan" && env "${asan_env[@]}" LLAMAS_TEST_SANITIZER=1 ctest --output-on-failure -j"$jobs")

# A deliberate bug per sanitizer (tests/unit/test_faults_probes.cpp), run with the options above:
# the run must fail with that sanitizer's report, or a real report could pass unnoticed.
probe() {  # probe BUILD_DIR NAME REPORT_PATTERN ENV...
  local build=$1 name=$2 pattern=$3; shift 3
  local log=$build/probe-$name.log
  if env "$@" LLAMAS_SANITIZER_PROBE="$name" "$build/tests/llamas-tests" --test-suite=sanitizer-probe >"$log" 2>&1; then
    echo "sanitizer probe '$name' exited 0: a report would not fail CI"; exit 1
  fi
  grep -q "$pattern" "$log" || { tail -20 "$log"; echo "sanitizer probe '$name' failed without a '$pattern' report"; exit 1; }
  echo "sanitizer probe $name: the run fails on its report ($pattern)"
}
stage "llamas-server under ASan: the same tests with 16 streaming clients"
env "${asan_env[@]}" LOAD_CLIENTS=16 "$root/tests/server/run.sh" "$root/build-asan"

probe "$root/build-asan" ubsan "runtime error: signed integer overflow" "${asan_env[@]}"
probe "$root/build-asan" asan "AddressSanitizer: heap-buffer-overflow" "${asan_env[@]}"
probe "$root/build-asan" leak "LeakSanitizer: detected memory leaks" "${asan_env[@]}"

stage "TSan build: the threaded tests"
TARGETS="c-threads llamas-tests" BUILD_DIR=$root/build-tsan BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DLLAMAS_WERROR=ON -DLLAMAS_SANITIZE=thread
tsan_env=(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1")
(cd "$root/build-tsan" && env "${tsan_env[@]}" ctest --output-on-failure -R "c-threads|kernels")
probe "$root/build-tsan" tsan "ThreadSanitizer: data race" "${tsan_env[@]}"

stage "aarch64 under qemu: kernel tests, path choice, decoder conformance on 9 quantized files"
# About 3 minutes; each emulated run is bounded (QEMU_TIMEOUT, 180 s), so a hang fails with a message.
QEMU_TIMEOUT=${QEMU_TIMEOUT:-180} BUILD_DIR=$root/build-aarch64 "$root/scripts/test-aarch64.sh"

stage "fuzzers (bounded), built in the ASan build"
FUZZ_BUILD_DIR=$root/build-asan FUZZ_SECONDS=${FUZZ_SECONDS:-20} "$root/tests/fuzz/run.sh"
stage "all passed"
