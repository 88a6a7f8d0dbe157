#!/usr/bin/env bash
# Runs the Python binding's tests against the library in LLAMAS_BUILD_DIR (see ../common.sh).
set -euo pipefail
cd "$(dirname "$0")"
source ../common.sh
llamas_prepare_library
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" -m pytest -q -p no:cacheprovider tests "$@"
