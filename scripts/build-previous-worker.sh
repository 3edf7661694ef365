#!/usr/bin/env bash
# Builds the edge worker of an earlier commit (the "previous version" of the upgrade test,
# tests/lifecycle/upgrade.test.mjs) into target/previous/<commit>/, once: its sources come from
# git (`git archive`), its Cargo build goes to target/previous/cargo (not the main build's
# target, whose final wasm file it would overwrite). Prints the folder of its chat deployment
# (deployments/chat/, or edge-worker/ in versions before the deployments were split).
# Run from the repository root; the pinned build tools are the Makefile's (worker-build would
# download its own otherwise), also when a test file is run alone.
set -euo pipefail
commit="$1"
root="$PWD"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
dir="$root/target/previous/$commit"
# A clone without that history (shallow, or sources without .git) cannot build it: say so
# and print nothing; the test then skips, except in CI, whose clone has the whole history.
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "build-previous-worker: commit $commit is not in this clone: the upgrade test cannot run" >&2
  [ -z "${CI:-}" ] || exit 1
  exit 0
fi
chat="deployments/chat"
git cat-file -e "$commit:$chat" 2>/dev/null || chat="edge-worker"
if [ ! -f "$dir/$chat/build/worker/shim.mjs" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  git archive "$commit" | tar -x -C "$dir"
  (cd "$dir/$chat" && CARGO_TARGET_DIR="$root/target/previous/cargo" worker-build --release) >&2
fi
echo "$dir/$chat"
