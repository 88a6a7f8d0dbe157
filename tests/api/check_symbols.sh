#!/usr/bin/env bash
# The shared library exports exactly the llamas_* API: nothing else may leak into the dynamic
# symbol table, and every function the header declares must be there.
set -euo pipefail
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)
leaked=$(echo "$exported" | grep -v '^llamas_' || true)
if [ -n "$leaked" ]; then echo "symbols outside the llamas_ prefix:"; echo "$leaked"; exit 1; fi
declared=$(grep -oE 'LLAMAS_API [^(]*\(' "$header" | grep -oE 'llamas_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then echo "declared but not exported:"; echo "$missing"; exit 1; fi
echo "$(echo "$exported" | wc -l) symbols, all llamas_*; every declared function exported"
