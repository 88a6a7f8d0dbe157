#!/usr/bin/env bash
# Runs the tests of the four bindings (Go, Rust, C#, Python) one after another against the
# library in LLAMAS_BUILD_DIR (default <repo>/build; see common.sh), installing the Debian
# packages they need when missing. Exit status: 0 when all four pass.
# Usage: bindings/run_all.sh [go|rust|csharp|python ...]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v go >/dev/null || need+=(golang-go)
command -v mcs >/dev/null || need+=(mono-mcs)
command -v mono >/dev/null || need+=(mono-runtime)
/usr/bin/python3 -c "import pytest" 2>/dev/null || need+=(python3-pytest)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null || {
        echo "could not install ${need[*]}" >&2; exit 1; }
fi
command -v cargo >/dev/null || { [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"; }

# Build the library once up front, so the four scripts only check that it is up to date.
source "$here/common.sh"
llamas_prepare_library || exit 1
export LLAMAS_SKIP_BUILD=1

langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(go rust csharp python)
passed=0 failed=0 failed_names=()
for lang in "${langs[@]}"; do
    echo "=== bindings/$lang"
    start=$SECONDS
    if "$here/$lang/test.sh"; then
        passed=$((passed + 1)); echo "=== bindings/$lang: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1)); failed_names+=("$lang"); echo "=== bindings/$lang: FAILED ($((SECONDS - start)) s)"
    fi
done
[ "$failed" = 0 ] || echo "failed bindings: ${failed_names[*]}"
echo "bindings: $passed passed, $failed failed"
[ "$failed" = 0 ]
