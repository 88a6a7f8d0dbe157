# Sourced by each bindings/<lang>/test.sh: finds (and if needed builds) libllamas.so.0 and the
# reference data, and exports LLAMAS_LIBRARY / LLAMAS_TEST_DATA for the tests.
#
#   LLAMAS_BUILD_DIR   CMake build dir of the C library (default: <repo>/build); the `llamas`
#                      target is (re)built there unless LLAMAS_SKIP_BUILD=1.
#   LLAMAS_LIBRARY     use this library file instead (then nothing is built).
#   LLAMAS_TEST_DATA   reference data (default: <repo>/../shared).

BINDINGS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BINDINGS_DIR/.." && pwd)"

llamas_prepare_library() {
    if [ -n "${LLAMAS_LIBRARY:-}" ]; then
        [ -f "$LLAMAS_LIBRARY" ] || { echo "LLAMAS_LIBRARY=$LLAMAS_LIBRARY does not exist" >&2; return 1; }
    else
        local build="${LLAMAS_BUILD_DIR:-$REPO_DIR/build}"
        if [ "${LLAMAS_SKIP_BUILD:-0}" != 1 ]; then
            if [ ! -f "$build/CMakeCache.txt" ]; then
                cmake -S "$REPO_DIR" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMAS_TESTS=OFF >/dev/null || return 1
            fi
            cmake --build "$build" -j"$(nproc)" --target llamas >/dev/null || {
                echo "building the llamas library in $build failed" >&2; return 1; }
        fi
        LLAMAS_LIBRARY="$(find "$build" -maxdepth 3 -name 'libllamas.so.0' | head -n1)"
        [ -n "$LLAMAS_LIBRARY" ] || { echo "no libllamas.so.0 under $build" >&2; return 1; }
    fi
    LLAMAS_LIBRARY="$(cd "$(dirname "$LLAMAS_LIBRARY")" && pwd)/$(basename "$LLAMAS_LIBRARY")"
    export LLAMAS_LIBRARY
    export LLAMAS_TEST_DATA="${LLAMAS_TEST_DATA:-$REPO_DIR/../shared}"
    [ -d "$LLAMAS_TEST_DATA/models" ] || { echo "reference data not found at $LLAMAS_TEST_DATA" >&2; return 1; }
    echo "using $LLAMAS_LIBRARY, data $LLAMAS_TEST_DATA"
}
