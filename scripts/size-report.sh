#!/usr/bin/env bash
# `make size`: the browser client's bytes against socket.io-client and the budget
# (bench/sizes/client-size.mjs), then the wasm's top consumers, attributed with twiggy on a
# build that keeps function names (otherwise the same as scripts/build-client.sh's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
node bench/sizes/client-size.mjs
if ! twiggy --version 2>/dev/null | grep -q "0.8.0"; then
  cargo install twiggy --version 0.8.0 --locked
fi
named=target/client-named
source scripts/client-flags.sh
RUSTFLAGS="$CLIENT_RUSTFLAGS" cargo +"$(cat rust-nightly)" build --quiet \
    --profile client --config 'profile.client.strip=false' --target wasm32-unknown-unknown \
    -p wasmio-client -Zbuild-std=std,panic_abort --target-dir "$named"
wasm-bindgen --target web --no-typescript --keep-debug --out-dir "$named/bindgen" --out-name wasmio \
    "$named/wasm32-unknown-unknown/client/wasmio_client.wasm"
node_modules/.bin/wasm-opt $CLIENT_WASM_OPT_FLAGS --debuginfo "$named/bindgen/wasmio_bg.wasm" -o "$named/named.wasm"
echo
echo "Top consumers of the wasm (raw bytes, names kept; the shipped build strips them):"
twiggy top -n "${SIZE_TOP:-30}" "$named/named.wasm" | grep -v '"function names" subsection' \
    | sed -E 's/\[[0-9a-f]{16}\]//g' | cut -c1-160
