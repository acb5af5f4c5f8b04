#!/usr/bin/env bash
# Node.js and the pinned npm packages of tools/openapi (Redocly CLI, ajv), for the
# OpenAPI checks. Uses the machine's Node.js; installs Debian's when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
cd tools/openapi
if [ ! -d node_modules/@redocly ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
