#!/usr/bin/env bash
# The NEON table compiled natively for 64-bit Arm (g++-aarch64-linux-gnu, cmake/aarch64-linux-gnu.cmake)
# and its tests run under qemu-aarch64: the packed-kernel and encoder tests against the scalar
# oracle (SDOT natively), and the decoder conformance test on the files named by STEMS (default:
# the real tiny model in two types and the synthetic llama in the common quant types; the whole
# set takes over 10 minutes under qemu here). TESTS overrides the doctest filter. Speed cannot be
# measured this way. Installs the cross toolchain and the :arm64 development packages from Debian when missing.
# Bounded by QEMU_TIMEOUT seconds (default 600).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export LLAMAS_TEST_DATA=${LLAMAS_TEST_DATA:-$root/../shared}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
for p in g++-aarch64-linux-gnu qemu-user libutf8proc-dev:arm64 libmimalloc-dev:arm64; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "test-aarch64: installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
build=${BUILD_DIR:-$root/build-aarch64}
cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DLLAMAS_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target llamas-tests
# LLAMAS_TEST_SANITIZER=1 picks the tests' reduced model sets (qemu runs ~20x slower).
LLAMAS_TEST_SANITIZER=1 LLAMAS_TEST_DECODER_STEMS=${STEMS:-kjv-tiny-Q8_0,kjv-tiny-Q4_K_M,llama-Q4_0,llama-Q8_0,llama-Q4_K_M} \
  timeout "${QEMU_TIMEOUT:-600}" qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/tests/llamas-tests" \
  --test-case="${TESTS:-packed gemm*,activation encoders equal*,forward pass matches the reference outputs*}"
