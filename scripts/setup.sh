#!/usr/bin/env bash
# Idempotent set-up of everything wasmio builds and tests with, on a bare Debian machine:
# Debian packages, the wasm32 Rust target, pinned wasm-bindgen-cli and worker-build, and the
# pinned JavaScript tools (npm ci). Each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== setup: %s\n' "$*"; }

apt_packages=(chromium chromium-driver pkg-config libssl-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$bindgen_version" ]; then
  step "cargo install wasm-bindgen-cli $bindgen_version"
  # No --locked: the CLI's own lock file pins a crate that is missing from the registry.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

worker_version=$(awk '/^name = "worker"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
# `worker-build --version` prints the bare version.
if [ -n "$worker_version" ] && [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$worker_version" ]; then
  step "cargo install worker-build $worker_version"
  cargo install worker-build --version "$worker_version" --locked --force
fi

# The pinned nightly (file rust-nightly): the browser client's build rebuilds std for size
# (rust-src), and the fuzz smoke of `make test` (scripts/fuzz.sh) runs on it.
nightly=$(cat rust-nightly)
if ! rustup component list --installed --toolchain "$nightly" 2>/dev/null | grep -q '^rust-src'; then
  step "rustup toolchain install $nightly (minimal, rust-src)"
  rustup toolchain install "$nightly" --profile minimal --component rust-src
fi

# The fuzz smoke of `make test` (scripts/fuzz.sh): cargo-fuzz.
if ! cargo fuzz --version >/dev/null 2>&1; then
  step "cargo install cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi
# The official protocol suites (tests/official) run with their own pinned mocha, chai and ws;
# the demo app (www-app) has its own package.json, whose only dependency is ../pkg (a link).
for suite in tests/official/engine.io-v4 tests/official/socket.io-v5 www-app; do
  if [ ! -f "$suite/node_modules/.package-lock.json" ] || [ "$suite/package-lock.json" -nt "$suite/node_modules/.package-lock.json" ]; then
    step "npm ci in $suite"
    (cd "$suite" && npm ci --no-audit --no-fund)
  fi
done
echo "setup: everything is installed"
