#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts jobstated on its embedded
# default storage (./jobstate-data), runs jobsim against it so you can watch jobs move,
# then leaves the server running so you can query it (Ctrl-C stops it).
#   JOBSTATE_DEMO_EXIT=1 bash scripts/run.sh   stops the server once the demo is done
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

DATA=${JOBSTATE_DATA_DIR:-./jobstate-data}
PORT_FILE=$(mktemp)
SIM_OUT=$(mktemp)
./build/jobstated --data-dir "$DATA" --listen 127.0.0.1:${JOBSTATE_PORT:-8080} \
  --port-file "$PORT_FILE" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$PORT_FILE" "$SIM_OUT"' EXIT
for _ in $(seq 1 100); do [ -s "$PORT_FILE" ] && break; sleep 0.1; done
if [ ! -s "$PORT_FILE" ]; then echo "jobstated did not start (see above)" >&2; exit 1; fi
PORT=$(cat "$PORT_FILE")
KEY=$(cat "$DATA/dev-api-key")
URL="http://127.0.0.1:$PORT"

echo
echo "== jobsim: 3 jobs of 40 files, 4 workers, against $URL =="
# Shown as it runs and kept in a file of our own (tee to /dev/stderr would reopen, and
# truncate, a log file the output is redirected to).
./build/jobsim --url "$URL" --key "$KEY" --jobs 3 --files 40 --workers 4 --speed 4 \
  | tee "$SIM_OUT" || true
JOBS=$(grep '^sim-' "$SIM_OUT" || true)
FIRST=$(echo "$JOBS" | head -n 1)
cat <<MSG

== Query the jobs yourself ==
  curl -s -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" $URL/v2/jobs/$FIRST
  curl -s -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" "$URL/v2/jobs?limit=5"
  curl -s -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" "$URL/v2/jobs/$FIRST/files?status=completed&limit=3"
  curl -s -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" "$URL/v2/jobs/$FIRST?as_of_version=10"   # time travel
  curl -s -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" "$URL/v2/events?limit=3"             # the feed
  curl -sN -H "Authorization: Bearer \$(cat $DATA/dev-api-key)" $URL/v2/jobs/$FIRST/watch            # live (SSE)
  curl -s $URL/metrics | grep ^jobstate_jobs
  build/jobctl --data-dir $DATA status $FIRST    # the operator's tool, beside the server
  build/jobctl --data-dir $DATA verify
MSG
if [ "${JOBSTATE_DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo
echo "jobstated keeps running on $URL; press Ctrl-C to stop it."
wait $SERVER
