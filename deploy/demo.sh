#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs tcpsec's main job on its
# embedded default (see deploy/demo.py): needs root for network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh build
exec /usr/bin/python3 deploy/demo.py "$@"
