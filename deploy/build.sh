#!/usr/bin/env bash
# Configures (once) and builds tcpsec into the given directory (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Druntime=true
fi
ninja -C "$dir"
