#!/usr/bin/env bash
# The NEON tables compiled natively for 64-bit Arm (g++-aarch64-linux-gnu,
# cmake/aarch64-linux-gnu.cmake) and tested under qemu-aarch64; a CI stage of scripts/test.sh.
# Speed cannot be measured this way: this checks results and run-time selection only.
#
#  1. -cpu max (dotprod and i8mm): the kernel tests against the scalar oracle on every path this
#     CPU runs (scalar, neon-nodot, neon = SDOT, neon-i8mm = SMMLA), and "neon-i8mm" must be the
#     one picked.
#     Not the thread-split tests: emulated threads that poll each other crawl (x86 runs them).
#  2. -cpu cortex-a76 (dotprod, no i8mm) must pick "neon"; -cpu cortex-a72 (Armv8.0, neither)
#     must pick "neon-nodot" and run its kernel tests (an instruction beyond Armv8.0 would trap).
#  3. The decoder conformance test (the default path, neon-i8mm; one thread) on the first PROMPTS
#     (default 2) reference prompts of the files named by STEMS: one each of Q4_0, Q4_K_M (Q4_K +
#     Q6_K) and Q8_0. Measured on a loaded 2-core machine: over 76 CPU-s for 2 prompts of one
#     file, so CI (scripts/test.sh) runs steps 1-2 only (CONFORMANCE=0) until it is made cheaper.
#
# Builds only llamas-tests-arch (the kernel and decoder unit tests) and the core library it links.
# Each emulated run is bounded by QEMU_TIMEOUT seconds, so a hang fails CI with a message.
# `scripts/setup.sh aarch64` installs the cross toolchain, qemu-user and the :arm64 libraries. TESTS
# overrides the kernel run's doctest filter.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export LLAMAS_TEST_DATA=${LLAMAS_TEST_DATA:-$root/../shared}
"$root/scripts/setup.sh" aarch64
build=${BUILD_DIR:-$root/build-aarch64}
start=$SECONDS
cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DLLAMAS_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target llamas-tests-arch
echo "test-aarch64: cross build $((SECONDS - start)) s"

limit=${QEMU_TIMEOUT:-240}
run() {  # run CPU WHAT ARGS...: the test binary under qemu-aarch64 -cpu CPU, bounded
  local cpu=$1 what=$2 t0=$SECONDS rc=0; shift 2
  timeout "$limit" qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$build/tests/llamas-tests-arch" \
    --no-version "$@" || rc=$?
  if [ "$rc" -eq 124 ]; then echo "test-aarch64: $what under -cpu $cpu did not finish in $limit s"; exit 1; fi
  if [ "$rc" -ne 0 ]; then echo "test-aarch64: $what under -cpu $cpu failed"; exit "$rc"; fi
  echo "test-aarch64: $what under -cpu $cpu passed in $((SECONDS - t0)) s"
}
kernel_tests="kernel paths*,*activation encoders*,every path's kernels*,packed gemm*,*entry of every path*"
kernel_tests+=",float loops*,F16 attention rows*"
LLAMAS_TEST_EXPECT_PATH=neon-i8mm run max "kernels" --test-case="${TESTS:-$kernel_tests}"
LLAMAS_TEST_EXPECT_PATH=neon run cortex-a76 "path choice" --test-case="kernel paths*"
LLAMAS_TEST_EXPECT_PATH=neon-nodot run cortex-a72 "path choice and Armv8.0 kernels" \
  --test-case="kernel paths*,every path's kernels*,packed gemm*"
# CONFORMANCE=0 skips step 3 (scripts/test.sh: it does not yet fit CI's time, see the header).
[ "${CONFORMANCE:-1}" = 0 ] || LLAMAS_TEST_THREADS=1 LLAMAS_TEST_DECODER_PROMPTS=${PROMPTS:-2} LLAMAS_TEST_DECODER_STEMS=${STEMS:-llama-Q4_0,qwen3-Q4_K_M,qwen2-Q8_0} \
  run max "decoder conformance" --test-case="forward pass matches the reference outputs*"
echo "test-aarch64: all passed, $((SECONDS - start)) s"
