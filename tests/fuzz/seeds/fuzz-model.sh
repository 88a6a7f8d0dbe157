#!/usr/bin/env bash
# Seeds for the model target: windows of kjv-tiny-Q8_0.gguf's header, each the target's input
# format ([u32 little-endian offset][the 64 original bytes there]), so every seed stands for the
# unchanged model: the start of the file, each hyperparameter key, the vocabulary arrays and the
# tensor infos.
set -euo pipefail
data=$1; out=$2
model=$data/models/kjv-tiny-Q8_0.gguf
[ -f "$model" ] || { echo "missing $model" >&2; exit 1; }
seed() {  # seed NAME OFFSET
  local off=$2
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((off & 255)) $((off >> 8 & 255)) $((off >> 16 & 255)) $((off >> 24 & 255)))" > "$out/$1"
  dd if="$model" iflag=skip_bytes,count_bytes skip="$off" count=64 bs=4096 status=none >> "$out/$1"
}
seed start 0
head -c 65536 "$model" | grep -boa -E "general\.architecture|llama\.[a-z_.]+|tokenizer\.ggml\.[a-z_]+|token_embd\.weight|blk\.0\.attn_q\.weight|blk\.3\.ffn_down\.weight|output_norm\.weight" |
  while IFS=: read -r off key; do seed "key-$key" $((off > 8 ? off - 8 : 0)); done  # from the key's length field
