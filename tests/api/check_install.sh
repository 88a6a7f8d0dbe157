#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds examples/simple.c against it twice —
# with pkg-config and as a CMake project using find_package(llamas) — and runs both on a model.
set -euo pipefail
build=$1 src=$(cd "$2" && pwd) model=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/llamas.h"
so=$(find "$prefix" -name libllamas.so.0 | head -1)
test -n "$so" && test -f "$(dirname "$so")/pkgconfig/llamas.pc"
libdir=$(dirname "$so")

# pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -std=c99 -Wall -Werror "$src/examples/simple.c" -o "$prefix/simple" $(pkg-config --cflags --libs llamas)
out=$(LD_LIBRARY_PATH=$libdir "$prefix/simple" "$model" "And God said")
echo "pkg-config build: $out" | head -c 200; echo

# CMake package
mkdir -p "$prefix/consumer"
cat > "$prefix/consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(llamas REQUIRED)
add_executable(simple $src/examples/simple.c)
target_link_libraries(simple PRIVATE llamas::llamas)
CMAKE
cmake -S "$prefix/consumer" -B "$prefix/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer/build" >/dev/null
out2=$(LD_LIBRARY_PATH=$libdir "$prefix/consumer/build/simple" "$model" "And God said")
[ "$out" = "$out2" ]
echo "find_package build: same output"
