#!/usr/bin/env bash
# Edge cost benchmark (issue 5, part 4): Durable Object wake-ups (alarms, messages, fetches)
# caused by EDGE_CONNECTIONS (default 1000) idle Socket.IO connections over EDGE_MINUTES
# (default 10), for the edge worker (`wrangler dev --env edgecost`) and for a JS Durable Object
# with a naive heartbeat (floor/), both at once. Prints a table, writes
# bench/results/edge-cost.json. Builds the worker when build/ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
# worker-build would download these from the internet: the pinned local tools (as the Makefile).
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
if [ ! -f edge-worker/build/worker/shim.mjs ]; then
  (cd edge-worker && worker-build --release)
fi
exec node bench/edge-cost/run.mjs
