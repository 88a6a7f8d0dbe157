#!/usr/bin/env bash
# The whole test suite: set up, build with -Werror, run every test; then the same tests under
# ASan+UBSan and the reader's fuzzer for a bounded time. Exit status is non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export LLAMAS_TEST_DATA=${LLAMAS_TEST_DATA:-$root/../shared}
jobs=$(nproc)
"$root/scripts/setup.sh"

echo "== release build and tests"
BUILD_DIR=$root/build "$root/scripts/build.sh" -DLLAMAS_WERROR=ON
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

echo "== bindings (Go, Rust, C#, Python) against build/libllamas.so"
LLAMAS_BUILD_DIR=$root/build "$root/bindings/run_all.sh"

echo "== ASan+UBSan build and tests"
BUILD_DIR=$root/build-asan BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DLLAMAS_WERROR=ON -DLLAMAS_SANITIZE=address
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   LLAMAS_TEST_SANITIZER=1 ctest --output-on-failure -j"$jobs")

echo "== TSan build: the threaded tests"
TARGETS="c-threads llamas-tests" BUILD_DIR=$root/build-tsan BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DLLAMAS_WERROR=ON -DLLAMAS_SANITIZE=thread
(cd "$root/build-tsan" && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
   ctest --output-on-failure -R "c-threads|kernels")

echo "== fuzzers (bounded)"
"$root/tests/fuzz/run.sh"
