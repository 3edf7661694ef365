# Sourced by the benchmark parts that run the edge worker (from the repository root): the
# pinned local tools worker-build would otherwise download from the internet (as the
# Makefile sets them), and a build of each deployment whose build/ is missing.
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
for deployment in deployments/chat deployments/conformance; do
  if [ ! -f "$deployment/build/worker/shim.mjs" ]; then
    (cd "$deployment" && worker-build --profile worker)
  fi
done
