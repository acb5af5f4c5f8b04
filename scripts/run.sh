#!/usr/bin/env bash
# The main job. Installs what is missing and builds; then, until the HTTP server
# (jobstated) and the worker simulator (jobsim) land, it shows the engine at work by
# driving the durable commit path: realistic jobs appended with sync = true, side by
# side with the raw RocksDB ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo
echo "== The commit path at work (bench/commit_bench --scale 0.2) =="
./build/bench/commit_bench --scale 0.2
