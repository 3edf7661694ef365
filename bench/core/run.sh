#!/usr/bin/env bash
# The server core's cost per event, natively (bench/core/src/main.rs): an echo, a broadcast to
# 1,000 sockets, an emit with its acknowledgement, each with the snapshot writes taken as the
# Durable Object does after every event. Prints the result and writes bench/results/core.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
result=$(cargo run --quiet --release -p wasmio-core-bench)
RESULT="$result" SECONDS_TAKEN=$((SECONDS - start)) node --input-type=module -e '
import { execSync } from "node:child_process";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
const r = JSON.parse(process.env.RESULT);
const git = (c) => execSync(`git ${c}`, { encoding: "utf8" }).trim();
Object.assign(r, {
  command: "bash bench/core/run.sh",
  date: new Date().toISOString(),
  commit: git("rev-parse HEAD"),
  dirty: git("status --porcelain -- protocol bench/core") !== "",
  seconds: Number(process.env.SECONDS_TAKEN),
  machine: { cpu: cpus()[0].model.trim(), cores: cpus().length, rustc: execSync("rustc --version", { encoding: "utf8" }).trim() },
});
writeFileSync("bench/results/core.json", JSON.stringify(r, null, 2) + "\n");
console.log(`core, natively, ns per op (medians of ${r.rounds} rounds): echo ${r.ns_per_op.echo}, broadcast to 1,000 ${r.ns_per_op.broadcast_1000}, ack ${r.ns_per_op.ack}`);
'
