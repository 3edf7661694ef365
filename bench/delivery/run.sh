#!/usr/bin/env bash
# Delivery under drops: DELIVERY_CLIENTS (default 50) socket.io-client 4.8.4 receivers, their
# transports cut at random about twice each, while one sender emits DELIVERY_MESSAGES
# (default 300) chat messages over DELIVERY_SECONDS (default 15); the share delivered and the
# duplicates for the edge worker (`wrangler dev`, chat app, 4 shards), the official socket.io
# 4.8.4 server, and the official server with connection state recovery. Servers on CPU 1, the
# driver on CPU 0 (taskset, when present). Prints tables, writes bench/results/delivery.json.
# The open-file limit is left as it is (wrangler dev's proxy costs about six descriptors per
# WebSocket). Builds the worker when build/ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/worker-build.sh
if command -v taskset >/dev/null 2>&1; then
  exec taskset -c "${DRIVER_CPU:-0}" node bench/delivery/run.mjs
fi
exec node bench/delivery/run.mjs
