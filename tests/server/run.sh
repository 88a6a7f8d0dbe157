#!/usr/bin/env bash
# llamas-server's tests: the official openai npm client (node --test) and curl, against
# BUILD_DIR/llamas-server on loopback. LOAD_CLIENTS sets the load test's concurrency (64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
export LLAMAS_SERVER=$build/llamas-server
export LLAMAS_TEST_DATA=$(cd "${LLAMAS_TEST_DATA:-$here/../../../shared}" && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "server tests need node and npm"; exit 1; }
command -v curl >/dev/null || apt-get install -y -qq curl >/dev/null
# The client, pinned by package-lock.json, from the npm registry (once; node_modules is ignored).
[ -d "$here/node_modules/openai" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

echo "== curl"
log=$(mktemp)
"$LLAMAS_SERVER" -m "$LLAMAS_TEST_DATA/models/kjv-tiny-Q8_0.gguf" --port 0 --threads 2 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "on http://" "$log" && break; sleep 0.1; done
port=$(sed -n 's|.*on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
[ -n "$port" ] || { cat "$log"; echo "the server did not start"; exit 1; }
body='{"messages":[{"role":"user","content":"And God said"}],"max_tokens":8,"temperature":0}'
out=$(curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/v1/chat/completions")
[ "$(tail -1 <<<"$out")" = 200 ] || { echo "$out"; exit 1; }
grep -q '"completion_tokens"' <<<"$out" || { echo "no usage in: $out"; exit 1; }
sse=$(curl -sSN -H 'Content-Type: application/json' -d "${body%\}},\"stream\":true}" "http://127.0.0.1:$port/v1/chat/completions")
grep -q '^data: \[DONE\]' <<<"$sse" || { echo "no [DONE] in: $sse"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{oops' "http://127.0.0.1:$port/v1/completions")
[ "$code" = 400 ] || { echo "malformed JSON gave $code"; exit 1; }
echo "curl: chat, streamed chat and a malformed body answered as expected"
kill $pid
wait $pid 2>/dev/null || true

echo "== openai client"
cd "$here"
node --test --test-concurrency=1 server.test.mjs
