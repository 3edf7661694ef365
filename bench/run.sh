#!/usr/bin/env bash
# Every benchmark (issues 5 and 9), then BENCHMARKS.md and its plots: `make bench` runs this after
# building the client and the worker. Each part prints its own progress; this prints which
# part runs and the time so far.
#
# The edge-cost part (1,000 idle connections per server for 10 minutes, counting Durable
# Object wake-ups) runs in the background from the start, alongside the other parts: it counts
# events rather than timing them, and its load (a few thousand pings and pongs every 25 s) is
# under 1% of one core. The timed parts run one after the other, never two at once.
# BENCH_PARTS (default "edge-cost sizes codec core client server delivery") picks the parts to run again;
# the report always uses every result file in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=(${BENCH_PARTS:-edge-cost sizes codec core client server delivery})
start=$SECONDS
log() { echo "=== bench $* ($((SECONDS - start)) s)" >&2; }

edge_pid=
cleanup() { [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null || true; }
trap cleanup EXIT
for part in "${parts[@]}"; do
  case "$part" in
    edge-cost)
      log "edge-cost: started in the background (EDGE_MINUTES=${EDGE_MINUTES:-10})"
      # Its lines are prefixed so that they read apart from the foreground part's.
      bash bench/edge-cost/run.sh > >(sed -u 's/^/[edge-cost] /') 2> >(sed -u 's/^/[edge-cost] /' >&2) &
      edge_pid=$! ;;
    sizes) log "sizes"; bash bench/sizes/run.sh ;;
    codec) log "codec"; bash bench/codec/build.sh ;;
    core) log "core"; bash bench/core/run.sh ;;
    client) log "client"; bash bench/client/run.sh ;;
    server) log "server"; bash bench/server/run.sh ;;
    delivery) log "delivery"; bash bench/delivery/run.sh ;;
    *) echo "bench/run.sh: unknown part '$part'" >&2; exit 2 ;;
  esac
done
if [ -n "$edge_pid" ]; then
  log "waiting for edge-cost"
  wait "$edge_pid"
  edge_pid=
fi
node bench/report.mjs
log "done: BENCHMARKS.md, bench/plots/, bench/results/"
