#!/usr/bin/env bash
# Seeds for the GGUF reader: the header region of shipped models and vocabularies.
set -euo pipefail
data=$1; out=$2
for f in "$data"/models/kjv-tiny-Q8_0.gguf "$data"/models/llama-Q4_K_M.gguf "$data"/models/bert-F16.gguf \
         "$data"/vocab/ggml-vocab-gpt-2.gguf; do
  [ -f "$f" ] && head -c 65536 "$f" > "$out/$(basename "$f").head"
done
