#!/usr/bin/env bash
# Browser client benchmark: wasmio (the ESM package) against socket.io-client 4.8.4 in
# headless Chromium, both talking to the official socket.io 4.8.4 server. Prints a table and
# writes bench/results/client.json. ROUNDS (default 7) interleaved rounds, medians.
# Builds the client first when pkg/wasm is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f pkg/wasm/wasmio_bg.wasm ] || bash scripts/build-client.sh
exec node bench/client/run.mjs
