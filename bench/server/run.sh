#!/usr/bin/env bash
# Server benchmark (issue 5, first part): the edge worker under `wrangler dev` vs the official
# socket.io 4.8.4 Node server vs a minimal JavaScript Durable Object (the platform floor), one
# raw-frame load driver. ROUNDS (default 5) interleaved rounds, medians; FANOUT (default 1000)
# clients for the fan-out. Servers on CPU 1, the driver on CPU 0 (taskset, when present).
# Prints a table, writes bench/results/server.json. Builds the worker when build/ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f deployments/conformance/build/worker/shim.mjs ]; then
  (cd deployments/conformance && worker-build --profile worker)
fi
# Under wrangler dev every WebSocket passes a local proxy: about six file descriptors per
# connection across its processes, so 5,000 connections need more than the usual limit.
# Every HTTP request to a worker also leaves sockets open for a while in wrangler's own
# processes (floor and ours alike): the long-polling fan-out to 1,000 clients reached a limit
# of 20,000 there (workerd then fails requests: "Too many open files"), so under a lower limit
# the polling room is smaller (FANOUT_POLLING, which the report's labels show).
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 65536 ]; then
  if ! { ulimit -Hn 65536 2>/dev/null && ulimit -n 65536; }; then
    export FANOUT_POLLING="${FANOUT_POLLING:-250}"
    echo "bench/server: cannot raise the open-file limit ($(ulimit -n)); 5,000 connections may fail; long-polling fan-out to $FANOUT_POLLING clients" >&2
  fi
fi
if command -v taskset >/dev/null 2>&1; then
  exec taskset -c "${DRIVER_CPU:-0}" node bench/server/run.mjs
fi
exec node bench/server/run.mjs
