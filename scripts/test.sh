#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, runs every test, checks the
# OpenAPI document (lint, and every response the integration tests received validated
# against it) and the Prometheus alerting rules (their cases, and that they name only
# series we export), replays the fuzzer's seeds and regressions under the sanitizers,
# and runs each benchmark once in a tiny smoke mode so they keep
# working.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBSTATE_CMAKE_ARGS="-DJOBSTATE_WERROR=ON ${JOBSTATE_CMAKE_ARGS:-}" bash scripts/setup.sh

SAMPLES="$PWD/build/response-samples"
JOBCTL_METRICS="$PWD/build/jobctl-metrics"
rm -rf "$SAMPLES" "$JOBCTL_METRICS" && mkdir -p "$SAMPLES" "$JOBCTL_METRICS"
JOBSTATE_RESPONSE_SAMPLES="$SAMPLES" JOBSTATE_METRICS_SAMPLE="$PWD/build/metrics-sample.txt" \
  JOBSTATE_JOBCTL_METRICS_SAMPLES="$JOBCTL_METRICS" \
  ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900

echo "metrics: promtool check metrics on a scrape taken after a known workload"
promtool check metrics < build/metrics-sample.txt

echo "alerts: promtool check and test rules; every series they name is one we export"
ALERTS=deploy/prometheus/jobstate-alerts.yml
promtool check rules "$ALERTS"
promtool test rules deploy/prometheus/jobstate-alerts.test.yml
missing=0
for name in $(grep -oE 'jobstate_[a-z0-9_]+' "$ALERTS" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
  if ! grep -qE "^# TYPE $name " build/metrics-sample.txt "$JOBCTL_METRICS"/*.prom; then
    echo "alerts: $ALERTS names $name, which neither jobstated nor jobctl exports"
    missing=1
  fi
done
[ "$missing" = 0 ]

echo "fuzz: the seeds and every input a fuzzing run found, once each (ASan, UBSan)"
bash fuzz/run --replay

echo "openapi: lint and response validation"
bash scripts/node-deps.sh
(cd tools/openapi && npx --no-install redocly lint --config redocly.yaml ../../docs/openapi.yaml \
  2>&1 | grep -v "^ *[║╔╚]" )
node tools/openapi/validate.mjs docs/openapi.yaml "$SAMPLES"

echo "bench smoke: commit_bench --scale 0.01"
./build/bench/commit_bench --scale 0.01 > /dev/null
echo "bench smoke: http_load --scale 0.002 --seconds 1"
./build/bench/http_load --server build/jobstated --scale 0.002 --seconds 1 > /dev/null
echo "bench smoke: live_bench --scale 0.004"
./build/bench/live_bench --server build/jobstated --scale 0.004 > /dev/null
echo "bench smoke: replay_bench --scale 0.004"
./build/bench/replay_bench --scale 0.004 > /dev/null
echo "bench smoke: codec_bench --benchmark_min_time=0.01"
./build/bench/codec_bench --benchmark_min_time=0.01 > /dev/null
echo "bench smoke: eta_bench (scores the shared traces when they are there)"
./build/bench/eta_bench > /dev/null
echo "bench smoke: bench/compare --scale 0.0005 --seconds 0.3 --reps 1 (PostgreSQL, Redis, nginx, RocksDB)"
./build/bench/compare_bench --jobstated build/jobstated --jobctl build/jobctl --scale 0.0005 \
  --seconds 0.3 --reps 1 --json build/compare-smoke.json > build/compare-smoke.txt
echo "bench smoke: ok"
