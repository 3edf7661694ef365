#!/usr/bin/env bash
# Builds the browser client: the wasm driver (wasmio-client) -> pkg/wasm/ (ESM glue + wasm,
# size-optimised), the classic <script> build -> pkg/dist/socket.io.js and its socket.io.wasm,
# copied to www/socket.io/ for the edge worker. Needs the pinned nightly toolchain with
# rust-src (file rust-nightly), the wasm-bindgen CLI at the version in Cargo.lock, and
# node_modules (binaryen's wasm-opt, esbuild, terser); `make setup` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Built for size (scripts/client-flags.sh): the bytes a page loads are what the client costs.
source scripts/client-flags.sh
RUSTFLAGS="$CLIENT_RUSTFLAGS" cargo +"$(cat rust-nightly)" build \
    --profile client --target wasm32-unknown-unknown -p wasmio-client \
    -Zbuild-std=std,panic_abort --target-dir target/client-std
rm -rf pkg/wasm
wasm-bindgen --target web --no-typescript --out-dir pkg/wasm --out-name wasmio \
    target/client-std/wasm32-unknown-unknown/client/wasmio_client.wasm
node_modules/.bin/wasm-opt $CLIENT_WASM_OPT_FLAGS --strip-debug --strip-target-features \
    pkg/wasm/wasmio_bg.wasm -o pkg/wasm/wasmio_bg.wasm
# Import and export names shortened in the wasm and its glue alike (wasm-bindgen's carry hashes).
node scripts/minify-wasm-names.mjs pkg/wasm/wasmio_bg.wasm pkg/wasm/wasmio.js target/client-std/wasm-names.json

# The shim's own private members, shortened in both bundles (a property name is written at each
# use, and does not compress away). Not the ones socket.io-client also has (`_readyState`,
# `_reconnection`, `_opts`, ...: code written against it may read them), nor `_d`, which
# bench/sizes reads, nor the wire's `_placeholder`.
MANGLED='^_(call|send|decode|notifyOutgoing|reportPackets|engineEvent|engine|start|state|set|reporting|compress|byId|anyOut|any|buffer|connected|active|closed|received|held|ev|te|wc|tn|q|p|m|s)$'

# esbuild bundles, terser minifies: its three compress passes and mangling leave 258 B gzip less
# than esbuild's --minify on the ESM entry (docs/ARCHITECTURE.md). Only safe compress options.
bundle() { # <entry> <format> <out>
  node_modules/.bin/esbuild "$1" --bundle --format="$2" --target=es2020 --log-level=warning \
      --outfile="$3.bundle.js"
  node_modules/.bin/terser "$3.bundle.js" $([ "$2" = esm ] && echo --module) --ecma 2020 \
      --compress passes=3 --mangle --mangle-props "regex=/$MANGLED/" --output "$3"
  rm "$3.bundle.js"
}

# The classic build: a script defining window.io, and its wasm beside it (socket.io.wasm).
bundle pkg/src/classic.js iife pkg/dist/socket.io.js
cp pkg/wasm/wasmio_bg.wasm pkg/dist/socket.io.wasm
# The ESM entry minified into one file (what a bundler would ship; measured by the size report).
# It loads its wasm from ./wasm/ beside it, as pkg/index.js does.
bundle pkg/index.js esm pkg/dist/wasmio.min.mjs
mkdir -p pkg/dist/wasm
cp pkg/wasm/wasmio_bg.wasm pkg/dist/wasm/wasmio_bg.wasm
mkdir -p www/socket.io
cp pkg/dist/socket.io.js pkg/dist/socket.io.wasm www/socket.io/
# The ESM bundle under the name the official server serves it by (its wasm, at ./wasm/ beside
# it, is socket.io.wasm: the edge maps the name).
cp pkg/dist/wasmio.min.mjs www/socket.io/socket.io.esm.min.js
ls -l pkg/wasm/wasmio_bg.wasm pkg/wasm/wasmio.js pkg/dist/socket.io.js
