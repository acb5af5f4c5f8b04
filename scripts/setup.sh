#!/usr/bin/env bash
# Installs every Debian package Jobstate needs (idempotent; run as root on Debian 12),
# then configures and builds into ./build.
#   scripts/setup.sh              install + configure + build
#   scripts/setup.sh --deps-only  install only
set -euo pipefail

# One line per package; keep in sync with README "Dependencies".
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librocksdb-dev            # the storage engine
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev  # Asio/Beast, JSON, URL
  libcereal-dev             # versioned binary codecs
  prometheus-cpp-dev        # metrics registry and text serializer
  libexpected-dev           # tl::expected (Result<T>)
  libxxhash-dev             # stable 64-bit content hash for idempotency checks
  libjemalloc-dev           # the allocator of jobstated and jobctl (cross-thread frees)
  libssl-dev                # SHA-256 of API keys, HMAC of cursors, random keys
  libcli11-dev libspdlog-dev libhowardhinnant-date-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus                # promtool: CI checks /metrics with it (the server is not run)
  clang-14 libclang-rt-14-dev  # fuzz/: libFuzzer with AddressSanitizer and UBSan
  # bench/compare: the systems Jobstate is measured against, and their client libraries
  postgresql-15 redis-server nginx-light libpq-dev libhiredis-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "${1:-}" = "--deps-only" ] && exit 0

cd "$(dirname "$0")/.."
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${JOBSTATE_CMAKE_ARGS:-}
cmake --build build -j "$(nproc)"
