#!/usr/bin/env bash
# The NEON tables compiled natively for 64-bit Arm (g++-aarch64-linux-gnu,
# cmake/aarch64-linux-gnu.cmake) and tested under qemu-aarch64; a CI stage of scripts/test.sh.
# Speed cannot be measured this way: this checks results and run-time selection only.
#
#  1. -cpu max (dotprod and i8mm): the whole "kernels" suite, the thread-split tests included,
#     against the scalar oracle on every path this CPU runs (scalar, neon-nodot, neon = SDOT,
#     neon-i8mm = SMMLA), and "neon-i8mm" must be the one picked.
#  2. -cpu cortex-a76 (dotprod, no i8mm) must pick "neon"; -cpu cortex-a72 (Armv8.0, neither)
#     must pick "neon-nodot" and run its kernel tests (an instruction beyond Armv8.0 would trap).
#  3. The decoder conformance test on the default path (neon-i8mm, the tests' two threads) on the
#     first PROMPTS (default: all 6) reference prompts of the files named by STEMS: prompts
#     checked as one batch (the SMMLA tiles), then 24 greedy tokens one at a time (SDOT).
#     CONFORMANCE=0 skips it.
#
# The emulated binaries get the cross toolchain's loader *and* its libc (qemu's -L prefix plus
# LD_LIBRARY_PATH). With the loader alone from there, libc.so.6 comes from the multiarch
# /lib/aarch64-linux-gnu instead (libc6:arm64, which the :arm64 -dev packages pull in): another
# Debian build of glibc (here 2.36-9+deb12u14 against libc6-arm64-cross's 2.36-8cross1; _rtld_global
# is 4520 bytes in one and 4512 in the other), and the first pthread_create then spins forever in
# glibc's stack-cache walk. That hang, not emulation speed, is what kept the thread-split tests
# and every model load (which packs the weights on a thread per core) out of this stage before.
#
# Cost (2-core x86, CPU-seconds, which is about the wall time of a quiet machine): the cross build
# ~210 (~1:50 wall on both cores), step 1 ~12, step 2 ~1, step 3 ~49 (3-6 per file): under 3
# minutes in all. The same on a machine loaded 4x over: 150 s for steps 1-3 with a warm build.
#
# Builds only llamas-tests-arch (the kernel and decoder unit tests) and the core library it links.
# Each emulated run is bounded by QEMU_TIMEOUT seconds (default 120, several times a slow run) and
# tried once more when it runs out, saying so. Such hangs were seen: 3 decoder runs of about 70
# (one in CI, two on a Zen 4 here) stopped with the caller asleep on the thread pool's done_ and the worker
# asleep on wake_. The pool's caller-sleep handshake is a store then a load on each side; qemu-user
# (Debian 12's 7.2) on an x86 host lets an LDAR pass an earlier STLR, which Arm forbids, so both
# could miss each other. The pool now uses an atomic exchange there (src/util/thread_pool.cpp); the
# retry stays for any other stall of the emulator, and a second timeout fails CI with a message.
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

limit=${QEMU_TIMEOUT:-120}
sysroot=/usr/aarch64-linux-gnu  # libc6-arm64-cross and libstdc++6-arm64-cross: loader, libc, libstdc++
run() {  # run CPU WHAT ARGS...: the test binary under qemu-aarch64 -cpu CPU, bounded, one retry
  local cpu=$1 what=$2 t0=$SECONDS rc=0 try; shift 2
  for try in 1 2; do
    rc=0
    timeout "$limit" qemu-aarch64 -cpu "$cpu" -L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib" \
      "$build/tests/llamas-tests-arch" --no-version "$@" || rc=$?
    [ "$rc" -eq 124 ] || break
    echo "test-aarch64: $what under -cpu $cpu did not finish in $limit s (try $try of 2)"
  done
  if [ "$rc" -eq 124 ]; then
    echo "test-aarch64: $what under -cpu $cpu timed out twice (QEMU_TIMEOUT; a hang at the first"
    echo "  thread start means the loader and libc.so.6 come from different glibc builds: see the header)"
    exit 1
  fi
  if [ "$rc" -ne 0 ]; then echo "test-aarch64: $what under -cpu $cpu failed"; exit "$rc"; fi
  echo "test-aarch64: $what under -cpu $cpu passed in $((SECONDS - t0)) s"
}
if [ -n "${TESTS:-}" ]; then
  LLAMAS_TEST_EXPECT_PATH=neon-i8mm run max "kernels" --test-case="$TESTS"
else
  LLAMAS_TEST_EXPECT_PATH=neon-i8mm run max "kernels" --test-suite=kernels
fi
LLAMAS_TEST_EXPECT_PATH=neon run cortex-a76 "path choice" --test-case="kernel paths*"
LLAMAS_TEST_EXPECT_PATH=neon-nodot run cortex-a72 "path choice and Armv8.0 kernels" \
  --test-case="kernel paths*,every path's kernels*,packed gemm*"
# One file per integer weight family the neon tables pack (Q4_0, Q5_1 with its Q8_1 activations,
# Q8_0, IQ4_NL, Q3_K, Q4_K + Q6_K, Q5_K), Q2_K (unpacked: its own row products), and gemma3 (GELU,
# sliding windows, head dim 128). Not the float files: F16/BF16/F32 products go through qemu's
# soft float, 15-31 CPU-s a file against 3-6 for these (the kernel tests check them instead).
stems=llama-Q4_0,llama-Q5_1,qwen2-Q8_0,llama-IQ4_NL,llama-Q3_K_M,qwen3-Q4_K_M,llama-Q5_K_M,llama-Q2_K,gemma3-Q4_K_M
if [ "${CONFORMANCE:-1}" != 0 ]; then
  LLAMAS_TEST_DECODER_PROMPTS=${PROMPTS:-} LLAMAS_TEST_DECODER_STEMS=${STEMS:-$stems} \
    run max "decoder conformance" --test-case="forward pass matches the reference outputs*"
fi
echo "test-aarch64: all passed, $((SECONDS - start)) s"
