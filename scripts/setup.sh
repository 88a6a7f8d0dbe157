#!/usr/bin/env bash
# Installs llamas' build dependencies from Debian when they are missing. Safe to run repeatedly.
# `setup.sh aarch64` adds the cross toolchain, qemu-user and the :arm64 libraries that
# scripts/test-aarch64.sh needs (the quick start does not).
set -euo pipefail
packages=(cmake g++ pkg-config libsimde-dev libmimalloc-dev doctest-dev libutf8proc-dev
          nlohmann-json3-dev clang libclang-rt-dev
          libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev curl)  # the last five: llamas-server
if [ "${1:-}" = aarch64 ]; then
  packages+=(g++-aarch64-linux-gnu qemu-user libutf8proc-dev:arm64 libmimalloc-dev:arm64)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # The :arm64 libraries of the cross build come from Debian's arm64 archive.
  if [ "${1:-}" = aarch64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
