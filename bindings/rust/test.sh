#!/usr/bin/env bash
# Builds the Rust binding and runs its tests against the library in LLAMAS_BUILD_DIR (../common.sh).
set -euo pipefail
cd "$(dirname "$0")"
source ../common.sh
llamas_prepare_library
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --offline --quiet
exec cargo test --offline --no-fail-fast "$@"
