#!/usr/bin/env bash
# Edge cost benchmark (issue 5, part 4): Durable Object wake-ups (alarms, messages, fetches)
# caused by EDGE_CONNECTIONS (default 1000) idle Socket.IO connections over EDGE_MINUTES
# (default 10), for the edge worker (`wrangler dev --env edgecost`) and for a JS Durable Object
# with a naive heartbeat (floor/), both at once. Prints a table, writes
# bench/results/edge-cost.json. Builds the worker when build/ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/worker-build.sh
exec node bench/edge-cost/run.mjs
