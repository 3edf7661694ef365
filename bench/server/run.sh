#!/usr/bin/env bash
# Server benchmark (issue 5, first part): the edge worker under `wrangler dev` vs the official
# socket.io 4.8.4 Node server vs a minimal JavaScript Durable Object (the platform floor), one
# raw-frame load driver. ROUNDS (default 5) interleaved rounds, medians; FANOUT (default 1000)
# clients for the fan-out. Servers on CPU 1, the driver on CPU 0 (taskset, when present).
# Prints a table, writes bench/results/server.json. Builds the worker when build/ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f edge-worker/build/worker/shim.mjs ]; then
  (cd edge-worker && worker-build --release)
fi
if command -v taskset >/dev/null 2>&1; then
  exec taskset -c "${DRIVER_CPU:-0}" node bench/server/run.mjs
fi
exec node bench/server/run.mjs
