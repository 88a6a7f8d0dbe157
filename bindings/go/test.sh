#!/usr/bin/env bash
# Builds the Go binding and runs its tests against the library in LLAMAS_BUILD_DIR (../common.sh).
set -euo pipefail
cd "$(dirname "$0")"
source ../common.sh
llamas_prepare_library
export GOFLAGS="${GOFLAGS:--mod=mod}" GOPROXY=off GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/go-build}"
go vet ./...
exec go test -count=1 -v ./... "$@"
