#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test.
# Also runs each benchmark once in a tiny smoke mode so they keep working.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBSTATE_CMAKE_ARGS="-DJOBSTATE_WERROR=ON ${JOBSTATE_CMAKE_ARGS:-}" bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
echo "bench smoke: commit_bench --scale 0.01"
./build/bench/commit_bench --scale 0.01 > /dev/null
echo "bench smoke: ok"
