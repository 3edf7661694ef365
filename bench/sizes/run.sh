#!/usr/bin/env bash
# Size benchmark: the bytes a page loads for wasmio's client vs socket.io-client 4.8.4, and the
# edge worker's upload from `wrangler deploy --dry-run` vs Cloudflare's Worker size limit.
# Writes bench/results/sizes.json and prints tables. Builds only what is missing (the client
# with scripts/build-client.sh, the worker with worker-build); run `make build` first to
# measure the current sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
if [ ! -f pkg/wasm/wasmio_bg.wasm ] || [ ! -f pkg/dist/wasmio.min.mjs ] || [ ! -f pkg/dist/socket.io.js ]; then
    bash scripts/build-client.sh
fi
if [ ! -f deployments/chat/build/worker/shim.mjs ]; then
    (cd deployments/chat && worker-build --profile worker)
fi
exec node bench/sizes/run.mjs
