#!/usr/bin/env bash
# Builds the edge worker of an earlier commit (the "previous version" of the upgrade test,
# tests/lifecycle/upgrade.test.mjs) into target/previous/<commit>/, once: its sources come from
# git (`git archive`), its Cargo build goes to target/previous/cargo (not the main build's
# target, whose final wasm file it would overwrite). Prints the folder of its edge-worker/.
# Run from the repository root with the Makefile's environment (the pinned build tools).
set -euo pipefail
commit="$1"
root="$PWD"
dir="$root/target/previous/$commit"
if [ ! -f "$dir/edge-worker/build/worker/shim.mjs" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  git archive "$commit" | tar -x -C "$dir"
  (cd "$dir/edge-worker" && CARGO_TARGET_DIR="$root/target/previous/cargo" worker-build --release) >&2
fi
echo "$dir/edge-worker"
