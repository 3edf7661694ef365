#!/usr/bin/env bash
# Fuzzes the wasmio-protocol decoders and state machines (protocol/fuzz: the server endpoint and
# core through evictions and mutated snapshots, the client Manager) with cargo-fuzz on the
# pinned nightly toolchain (file rust-nightly): each target for FUZZ_SECONDS (default 60).
# Prints the executions of each and whether it crashed; exits non-zero if one did. Crashing inputs land in protocol/fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${FUZZ_SECONDS:-60}"
targets=(socket_packet engine_packet engine_payload handshake json server_lifecycle client_manager)
cd "$(dirname "$0")/../protocol"
nightly=$(cat ../rust-nightly)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# The crate forbids unsafe code, so AddressSanitizer has nothing to find: run without it, faster.
cargo +"$nightly" fuzz build --sanitizer none

crashed=0
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  log="fuzz/artifacts/$target/fuzz.log"
  if cargo +"$nightly" fuzz run "$target" --sanitizer none "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    status="no crash"
  else
    status="CRASH (see $log)"
    crashed=1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  printf '%-16s %12s executions  %s\n' "$target" "${executions:-?}" "$status"
  if [[ $status != "no crash" ]]; then
    { grep -A1 -m1 "panicked at" "$log"; grep -o "Test unit written to .*" "$log"; } | sed 's/^/    /' || true
  fi
done
exit "$crashed"
