#!/usr/bin/env bash
# Speed benchmark of llamas on a Llama-3.2-1B-shaped model with random weights (the numbers in
# docs/benchmarks.md, "Speed"). Makes the models when missing, outside the repository:
#   MODELS/llama-1b-F16.gguf    with ../shared/tools/make_bench_model.py (needs numpy:
#                               apt-get install python3-numpy)
#   MODELS/llama-1b-TYPE.gguf   with llamas-quantize, for each TYPE
# then runs llamas-bench on each quantized model. Extra arguments go to llamas-bench (they
# replace the defaults -p 512 -n 128 -t 2 -r 3).
#
# Environment: BUILD_DIR (default: build; llamas-bench and llamas-quantize are built there if
# missing), MODELS (default: /work/scratch/models), SHAPE (default: llama-1b),
# TYPES (default: "Q4_0 Q4_K_M Q8_0"), SHARED (default: ../shared from the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
models=${MODELS:-/work/scratch/models}
shape=${SHAPE:-llama-1b}
types=${TYPES:-Q4_0 Q4_K_M Q8_0}
shared=${SHARED:-$root/../shared}

case "$models" in
  "$root"|"$root"/*) echo "bench.sh: MODELS must be outside the repository ($models)" >&2; exit 1 ;;
esac

if [ ! -x "$build/llamas-bench" ] || [ ! -x "$build/llamas-quantize" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target llamas-bench llamas-quantize
fi

mkdir -p "$models"
f16="$models/$shape-F16.gguf"
if [ ! -f "$f16" ]; then
  # The generator needs numpy; pyenv's python3 may lack it where Debian's has it.
  py=""
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then py=$p; break; fi
  done
  if [ -z "$py" ]; then
    echo "bench.sh: making $f16 needs numpy (apt-get install python3-numpy)" >&2
    exit 1
  fi
  echo "bench.sh: writing $f16" >&2
  "$py" "$shared/tools/make_bench_model.py" "$shape" "$f16.tmp"
  mv "$f16.tmp" "$f16"
fi

files=()
for t in $types; do
  q="$models/$shape-$t.gguf"
  if [ ! -f "$q" ]; then
    echo "bench.sh: quantizing $q" >&2
    "$build/llamas-quantize" "$f16" "$q.tmp" "$t" >&2
    mv "$q.tmp" "$q"
  fi
  files+=("$q")
done

bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(-p 512 -n 128 -t 2 -r 3)
echo "bench.sh: $(uptime)" >&2
model_args=()
for q in "${files[@]}"; do model_args+=(-m "$q"); done
"$build/llamas-bench" "${model_args[@]}" "${bench_args[@]}"
echo "bench.sh: $(uptime)" >&2
