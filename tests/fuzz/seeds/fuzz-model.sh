#!/usr/bin/env bash
# Seeds for the model target: windows of each base model's header in the target's input format
# ([u32 little-endian offset][u8 base index][the 64 original bytes there]), so every seed stands
# for an unchanged model: the start of the file, each hyperparameter key, the tokenizer arrays
# and some tensor infos. The base list must match kBaseNames in fuzz_model.cpp.
set -euo pipefail
data=$1; out=$2
bases=(kjv-tiny-Q8_0 qwen2-Q4_K_M qwen3-Q4_K_M gemma2-Q4_K_M gemma3-Q4_K_M phi3-Q4_K_M)
seed() {  # seed NAME BASE_INDEX OFFSET
  local off=$3
  printf "$(printf '\\%03o' $((off & 255)) $((off >> 8 & 255)) $((off >> 16 & 255)) $((off >> 24 & 255)) "$2")" > "$out/$1"
  dd if="$model" iflag=skip_bytes,count_bytes skip="$off" count=64 bs=4096 status=none >> "$out/$1"
}
for i in "${!bases[@]}"; do
  name=${bases[$i]}
  model=$data/models/$name.gguf
  [ -f "$model" ] || { echo "missing $model" >&2; exit 1; }
  seed "$name-start" "$i" 0
  # A few keys each (a successful load and evaluation is slow under ASan, and every seed runs
  # once before fuzzing starts), from the key's length field 8 bytes before its name; the first
  # occurrence of a name wins.
  head -c 262144 "$model" |
    grep -boa -E "general\.architecture|(llama|qwen2|qwen3|gemma2|gemma3|phi3)\.(block_count|embedding_length|attention\.head_count_kv|attention\.sliding_window|rope\.dimension_count)|tokenizer\.ggml\.(model|tokens|merges)|token_embd\.weight|blk\.0\.attn_(q|qkv)\.weight" |
    awk -F: '!seen[$2]++' |
    while IFS=: read -r off key; do seed "$name-$key" "$i" $((off > 8 ? off - 8 : 0)); done
done
