#!/usr/bin/env bash
# Sets up, builds, and chats once with a model: by default the tiny King-James model shipped in
# ../shared, continuing "And God said". Usage: quickstart.sh [MODEL.gguf] [PROMPT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/../shared/models/kjv-tiny-Q8_0.gguf}
prompt=${2:-And God said}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
"$root/build/llamas-chat" -m "$model" -p "$prompt" -n 64
