#!/usr/bin/env bash
# Seeds for the tokenizer target: every conformance text of ../shared/vocab, prefixed with the
# vocabulary's index (files in byte order, as the target numbers them) and a mode byte, plus
# special-token text with special parsing on and a list of ids to decode.
set -euo pipefail
data=$1; out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
for f in $(cd "$data/vocab" && LC_ALL=C ls *.gguf); do
  idx=$(printf '\\%03o' "$i")
  inp="$data/vocab/$f.inp"
  if [ -f "$inp" ]; then
    # Each text ends with a line "__ggml_vocab_test__"; its last newline belongs to the separator.
    rm -f "$tmp"/t.*
    awk -v dir="$tmp" '
      BEGIN { n = 0; file = sprintf("%s/t.%03d", dir, n); first = 1 }
      /^__ggml_vocab_test__$/ { close(file); n++; file = sprintf("%s/t.%03d", dir, n); first = 1; next }
      { printf "%s%s", (first ? "" : "\n"), $0 > file; first = 0 }' "$inp"
    for t in "$tmp"/t.*; do
      [ -f "$t" ] || continue
      { printf "${idx}\\000"; cat "$t"; } > "$out/$f.$(basename "$t" | cut -d. -f2)"
    done
  fi
  printf "${idx}\\003<s>Hello</s> <|im_start|>user\\n[CLS] caf\\303\\251 [SEP]<|endoftext|>\\360\\237\\246\\231 \\377\\376" > "$out/$f.special"
  printf "${idx}\\004\\001\\000\\000\\000\\002\\000\\000\\000\\377\\377\\377\\377\\052\\000\\000\\000" > "$out/$f.ids"
  i=$((i + 1))
done
