#!/usr/bin/env bash
# The main job: install, build, and run rayk's demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/bin/rayk plugins list
build/bin/rayk config check plugins.toml
