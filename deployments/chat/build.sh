#!/bin/sh
# The worker's build (wrangler runs it before `wrangler dev` and `wrangler deploy`).
# WASMIO_PREBUILT=1 skips it when the bundle in build/ was just made (the test suite builds
# once, then starts several workers).
[ -n "$WASMIO_PREBUILT" ] && [ -f build/worker/shim.mjs ] && exit 0
exec worker-build --profile worker
