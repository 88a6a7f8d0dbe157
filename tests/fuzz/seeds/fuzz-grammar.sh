#!/usr/bin/env bash
# Seeds for the grammar target: each grammar of tests/data/grammars, followed by a NUL and a
# text in its language.
set -euo pipefail
data=$1; out=$2
here=$(cd "$(dirname "$0")/../../.." && pwd)
g=$here/tests/data/grammars
seed() { { cat "$g/$1"; printf '\0%s' "$2"; } > "$out/seed-$1"; }
seed json.gbnf '{"a": [1, 2.5, {"b": "caf\u00e9 日本"}], "c": null}'
seed json_object.gbnf '{"name": "Ann", "age": 42, "tags": ["a"], "address": {"city": "Oslo", "zip": "0150"}}'
seed json_bounded.gbnf '{"ab": [1, "x"], "c": {"d": true}}'
seed arithmetic.gbnf '(1 + 2) * -3 % 4'
seed list.gbnf $'- eggs\n- milk\n'
seed chess.gbnf '1. e4 e5 2. Nf3 Nc6 3. O-O'
seed c.gbnf 'int main(int a) { if (a > b) { return a; } return 0; }'
seed japanese.gbnf '東京（とうきょう）へ行きます！'
# Token references beside characters (the fixed vocabulary's ids: 0 "a", 3 "{", 10 "x").
printf 'root ::= (<[3]> | "a") !<[0]>* <[10]>? "}"\0{x}' > "$out/seed-token-refs"
