#!/usr/bin/env bash
# Sets up, builds, and runs the main job on a model (default: a shipped model in ../shared).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/../shared/models/kjv-tiny-Q8_0.gguf}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
"$root/build/llamas-gguf" info "$model"
