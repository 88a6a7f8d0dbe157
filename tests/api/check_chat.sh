#!/usr/bin/env bash
# llamas-chat end to end: one-shot answer with speeds, errors for bad model files, an
# interactive session of two turns, and Ctrl-C stopping an answer without ending the chat.
set -euo pipefail
chat=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# One-shot: greedy, deterministic, speeds on stderr.
"$chat" -m "$model" -p "And God said" -n 24 --temp 0 >"$tmp/a.out" 2>"$tmp/a.err" || fail "one-shot exit $?"
grep -q "unto" "$tmp/a.out" || fail "one-shot answer is not KJV text: $(cat "$tmp/a.out")"
grep -q "prompt: .* tokens/s; generation: 24 tokens" "$tmp/a.err" || fail "no speed line: $(cat "$tmp/a.err")"
"$chat" -m "$model" -p "And God said" -n 24 --temp 0 >"$tmp/b.out" 2>/dev/null
cmp -s "$tmp/a.out" "$tmp/b.out" || fail "greedy answers differ between runs"

# Bad model files: one error line, exit 1.
set +e
"$chat" -m /nonexistent/model.gguf -p hi >/dev/null 2>"$tmp/e1"; rc1=$?
head -c 3000 "$model" >"$tmp/cut.gguf"
"$chat" -m "$tmp/cut.gguf" -p hi >/dev/null 2>"$tmp/e2"; rc2=$?
"$chat" -p hi >/dev/null 2>&1; rc3=$?
set -e
[ $rc1 = 1 ] && grep -q "^error: .*nonexistent" "$tmp/e1" || fail "missing model: rc $rc1, $(cat "$tmp/e1")"
[ $rc2 = 1 ] && grep -q "^error: " "$tmp/e2" || fail "truncated model: rc $rc2, $(cat "$tmp/e2")"
[ $rc3 = 2 ] || fail "no -m: rc $rc3"

# --grammar: the answer follows the grammar; a bad grammar is one error line naming its place.
printf 'root ::= "Yea, " [a-z ]{3,30} "."\n' >"$tmp/g.gbnf"
"$chat" -m "$model" -p "And God said" -n 60 --seed 7 --grammar "$tmp/g.gbnf" >"$tmp/g.out" 2>/dev/null || fail "grammar exit $?"
grep -qE '^Yea, [a-z ]{3,30}\.$' "$tmp/g.out" || fail "answer does not follow the grammar: $(cat "$tmp/g.out")"
printf 'root ::= "a"\nx ::= root y\n' >"$tmp/bad.gbnf"
set +e
"$chat" -m "$model" -p hi --grammar "$tmp/bad.gbnf" >/dev/null 2>"$tmp/g.err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "line 2, column 12: undefined rule 'y'" "$tmp/g.err" || fail "bad grammar: rc $rc, $(cat "$tmp/g.err")"
# --json-schema: the answer is JSON of the schema; a bad schema is an error.
printf '{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"],"additionalProperties":false}' >"$tmp/s.json"
"$chat" -m "$model" -p "And God said" -n 200 --seed 3 --json-schema "$tmp/s.json" >"$tmp/s.out" 2>/dev/null || fail "json-schema exit $?"
tr -d ' \n' <"$tmp/s.out" | grep -qE '^\{"n":[1-9]\}$' || fail "answer is not the schema's JSON: $(cat "$tmp/s.out")"
printf '{"type":"nonsense"}' >"$tmp/bad.json"
set +e
"$chat" -m "$model" -p hi --json-schema "$tmp/bad.json" >/dev/null 2>"$tmp/s.err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "error: " "$tmp/s.err" || fail "bad schema: rc $rc, $(cat "$tmp/s.err")"

# Interactive: two turns from stdin; the second continues the conversation in the cache.
printf 'And God said\nAnd Moses\n' | "$chat" -m "$model" -n 8 --temp 0 >"$tmp/i.out" 2>"$tmp/i.err" || fail "interactive exit"
[ "$(grep -c '^> ' "$tmp/i.out")" -ge 2 ] || fail "interactive: expected two turns: $(cat "$tmp/i.out")"
grep -q "generation: 16 tokens" "$tmp/i.err" || fail "interactive: $(cat "$tmp/i.err")"

# Ctrl-C during a long answer stops that answer only; the chat then reads the next line.
mkfifo "$tmp/in"
"$chat" -m "$model" -n 100000 --ctx 2048 >"$tmp/c.out" 2>"$tmp/c.err" <"$tmp/in" &
pid=$!
exec 3>"$tmp/in"
echo "And God said" >&3
for _ in $(seq 50); do [ -s "$tmp/c.out" ] && break; sleep 0.1; done
sleep 0.2
kill -INT $pid
sleep 0.5
kill -0 $pid 2>/dev/null || fail "Ctrl-C ended the chat instead of the answer"
exec 3>&-  # EOF: the chat ends normally
wait $pid || fail "chat exit status after Ctrl-C and EOF: $?"
grep -q "\[stopped\]" "$tmp/c.out" || fail "no [stopped] marker: $(tail -c 300 "$tmp/c.out")"
echo "llamas-chat: one-shot, errors, grammar, interactive and Ctrl-C all behave"
