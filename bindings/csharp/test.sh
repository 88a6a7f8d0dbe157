#!/usr/bin/env bash
# Builds the C# binding (Llamas.dll) and its test program with Mono, and runs the tests against
# the library in LLAMAS_BUILD_DIR (../common.sh). Installs Mono from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v mcs >/dev/null || ! command -v mono >/dev/null; then
    echo "installing mono-mcs, mono-runtime"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq mono-mcs mono-runtime >/dev/null
fi
source ../common.sh
llamas_prepare_library
out="${LLAMAS_CSHARP_OUT:-$PWD/bin}"
mkdir -p "$out"
mcs -nologo -warnaserror -target:library -out:"$out/Llamas.dll" Native.cs Llamas.cs
mcs -nologo -warnaserror -r:"$out/Llamas.dll" -r:System.Core.dll -out:"$out/LlamasTests.exe" tests/Tests.cs
exec mono --debug "$out/LlamasTests.exe"
