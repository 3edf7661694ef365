#!/usr/bin/env bash
# Codec benchmark: builds the native runner and the wasm module (release), then runs
# bench/codec/run.mjs, which prints the table and writes bench/results/codec.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "bench/codec/build.sh: $*" >&2; exit 1; }

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
command -v wasm-bindgen >/dev/null || fail "wasm-bindgen $bindgen_version is not installed: run scripts/setup.sh"
installed=$(wasm-bindgen --version | awk '{print $2}')
[ "$installed" = "$bindgen_version" ] || fail "wasm-bindgen $installed found, $bindgen_version needed: run scripts/setup.sh"
rustup target list --installed | grep -qx wasm32-unknown-unknown || fail "the wasm32-unknown-unknown target is missing: run scripts/setup.sh"
[ -x node_modules/.bin/wasm-opt ] || fail "node_modules/.bin/wasm-opt is missing: run scripts/setup.sh"

target_dir=${CARGO_TARGET_DIR:-target}
out=bench/codec/wasm-out
cargo build --release -p wasmio-codec-bench
cargo build --release --target wasm32-unknown-unknown -p wasmio-codec-bench-wasm
rm -rf "$out"
wasm-bindgen --target nodejs --out-dir "$out" "$target_dir/wasm32-unknown-unknown/release/wasmio_codec_bench_wasm.wasm"
node_modules/.bin/wasm-opt -O3 "$out/wasmio_codec_bench_wasm_bg.wasm" -o "$out/wasmio_codec_bench_wasm_bg.wasm"
node bench/codec/run.mjs
