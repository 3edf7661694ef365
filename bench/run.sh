#!/usr/bin/env bash
# Every benchmark of issue 5, one after the other (timings must not share the 2 cores), then
# BENCHMARKS.md and its plots: `make bench` runs this after building the client and worker.
# Each part prints its own progress; this prints which part runs and the time so far.
# BENCH_PARTS (default "sizes codec client server edge-cost") picks parts to run again; the
# report always uses every result file in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=(${BENCH_PARTS:-sizes codec client server edge-cost})
start=$SECONDS
step=0
for part in "${parts[@]}"; do
  step=$((step + 1))
  echo "=== bench [$step/${#parts[@]}] $part (started at $((SECONDS - start)) s)" >&2
  case "$part" in
    sizes) bash bench/sizes/run.sh ;;
    codec) bash bench/codec/build.sh ;;
    client) bash bench/client/run.sh ;;
    server) bash bench/server/run.sh ;;
    edge-cost) bash bench/edge-cost/run.sh ;;
    *) echo "bench/run.sh: unknown part '$part'" >&2; exit 2 ;;
  esac
done
node bench/report.mjs
echo "=== bench done in $((SECONDS - start)) s: BENCHMARKS.md, bench/plots/, bench/results/" >&2
