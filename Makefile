# wasmio: one protocol core, compiled to wasm twice (browser client, Cloudflare edge server).
# `make demo` and `make test` work on a bare machine: both run `make setup` first.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
# worker-build would download these from the internet: point it at the pinned local tools.
export WASM_BINDGEN_BIN := $(HOME)/.cargo/bin/wasm-bindgen
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

WASM := --target wasm32-unknown-unknown

.PHONY: setup build build-wasm build-client build-worker build-app demo conformance test lint test-protocol test-edge \
	test-official test-lifecycle test-client test-client-official test-e2e test-demo test-browsers-beside-lifecycle test-wasm fuzz test-fuzz bench size \
	screenshots

## Install everything (apt, rustup target, wasm-bindgen-cli, worker-build, npm ci); idempotent.
setup:
	@bash scripts/setup.sh

## Build everything: the core for wasm, the browser client into pkg/ (and www/socket.io/),
## the bundles of the two deployments of the edge library (deployments/chat, deployments/conformance),
## the demo app (www-app/, bundled by Vite into www/app/).
build: setup build-wasm build-app

build-wasm: build-client build-worker
	cargo build -p wasmio-protocol $(WASM)

build-client:
	bash scripts/build-client.sh

build-worker:
	cd deployments/chat && worker-build --profile worker
	cd deployments/conformance && worker-build --profile worker

## The demo app (www-app/: a Vite app importing the wasmio package of pkg/) into www/app/,
## which the chat deployment serves at /app/.
build-app: build-client
	node_modules/.bin/vite build www-app

## The operations view's token for `make demo` (local development only; a deployment sets the
## Worker secret: `wrangler secret put OPS_TOKEN`).
OPS_TOKEN ?= wasmio-local-ops

## Main job: build everything and start the edge worker (the chat of the seed article with
## its page, and the demo app) in the foreground on http://127.0.0.1:8787, on local Durable
## Object storage.
demo: build
	@echo "wasmio: the seed chat at http://127.0.0.1:8787/ (open it in two tabs), the demo app at"
	@echo "http://127.0.0.1:8787/app/, its operations view at http://127.0.0.1:8787/app/ops/ (token: $(OPS_TOKEN)); Ctrl-C stops the worker"
	cd deployments/chat && WASMIO_PREBUILT=1 ../../node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port 8787 \
		--inspector-ip 127.0.0.1 --show-interactive-dev-session=false --var OPS_TOKEN:$(OPS_TOKEN)

## The conformance worker (reference handlers and timings) in the foreground on 127.0.0.1:3000.
conformance: setup
	cd deployments/conformance && ../../node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port 3000 \
		--inspector-ip 127.0.0.1 --show-interactive-dev-session=false

## The whole test suite.
test: setup lint test-protocol test-fuzz test-wasm build-wasm build-app test-official test-edge test-client-official \
	test-browsers-beside-lifecycle

## Formatting, clippy and rustdoc, warnings as errors (the wasm crates checked for wasm32).
lint:
	cargo fmt --all -- --check
	cargo clippy -p wasmio-protocol --all-targets -- -D warnings
	@# the browser client's JSON reads (protocol/src/json/js_engine.rs) and base64 exist on wasm32 only
	cargo clippy -p wasmio-protocol --features js-json,js-base64 $(WASM) -- -D warnings
	cargo clippy -p wasmio-edge -p wasmio-chat -p wasmio-conformance -p wasmio-client $(WASM) -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p wasmio-protocol
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p wasmio-edge -p wasmio-client $(WASM)
	@# cargo verifies wasmio-edge against the wasmio-protocol just packaged, but takes a package
	@# of an unchanged version for unchanged: drop what it unpacked and built of it before (our
	@# unpublished crates only; the verification builds in a target folder of its own).
	rm -rf $(HOME)/.cargo/registry/src/*/wasmio-protocol-* $(HOME)/.cargo/registry/cache/*/wasmio-protocol-* \
		target/packaged/debug/.fingerprint/wasmio-*
	cargo package --quiet --allow-dirty --target-dir target/packaged -p wasmio-protocol -p wasmio-edge

## Protocol core: unit, property, machine scenario and differential tests (needs node_modules);
## the edge library's unit tests (rate-limit buckets, typed arguments) and doc tests, natively.
test-protocol:
	cargo test -p wasmio-protocol
	cargo test -p wasmio-edge

## Browser driver (client-wasm) in headless Chromium with wasm-bindgen-test: refused WebSocket
## and fetch, reconnection delays, the connect timeout against a peer that never answers
## (a local listener that accepts and stays silent; its port reaches the tests at build time).
test-wasm:
	@silent=$$(mktemp); \
	python3 -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); \
		open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(3600)' "$$silent" & pid=$$!; \
	trap 'kill $$pid; rm -f "$$silent"' EXIT; \
	for i in $$(seq 100); do [ -s "$$silent" ] && break; sleep 0.1; done; \
	CHROMEDRIVER=/usr/bin/chromedriver WASMIO_SILENT_PORT=$$(cat "$$silent") cargo test -p wasmio-client $(WASM)

## Edge worker under real workerd: Engine.IO and Socket.IO conformance with raw frames, the
## official engine.io-client and socket.io-client, hibernation.
test-edge: build-client build-worker
	WASMIO_PREBUILT=1 node --test --test-timeout=180000 tests/edge/

## The official Engine.IO v4 (25 tests) and Socket.IO v5 (32 tests) suites, unmodified, against
## the conformance worker (tests/official: the copies are checked against their checksums).
test-official: build-worker
	WASMIO_PREBUILT=1 node --test --test-timeout=300000 tests/official/official.test.mjs

## The chat deployment through a real idle eviction, a restart of workerd on its persisted
## state and an upgrade from the previous version's build (built once into target/previous/),
## with official clients on every transport path, and wasmio's browser client in Chromium.
## Two files at a time (each its own workerd on its own ports): most of their time is spent
## waiting for real evictions, so two lanes take about half as long (13 -> 7 min here). The
## timeout bounds each file too, the longest of which take about 5 minutes.
LIFECYCLE_SUITE = bash scripts/build-previous-worker.sh $$(cat tests/lifecycle/PREVIOUS_VERSION) >/dev/null && \
	WASMIO_PREBUILT=1 node --test --test-concurrency=2 --test-timeout=480000 tests/lifecycle/
test-lifecycle: build-client build-worker
	$(LIFECYCLE_SUITE)

## Browser client in real Chromium against the official socket.io server (also in a Web
## Worker, and `npm pack`ed, installed and built into fresh Vite and webpack 5 apps) and
## against our edge worker.
## socket.io-client's own Node suite (tests/client/official-suite.test.mjs) runs apart, on a
## quiet machine: some of its tests give a connection a fixed 50-100 ms, which the official
## client missed three times in one fresh-clone `make test` (2026-12-07) beside the lifecycle
## suite's workerd restarts (wasmio passed them all in that run).
CLIENT_OFFICIAL = tests/client/official-suite.test.mjs
CLIENT_SUITE = WASMIO_PREBUILT=1 node --test --test-timeout=180000 \
	$(filter-out $(CLIENT_OFFICIAL),$(wildcard tests/client/*.test.mjs))
CLIENT_OFFICIAL_SUITE = node --test --test-timeout=300000 $(CLIENT_OFFICIAL)
test-client: build-client build-worker
	$(CLIENT_OFFICIAL_SUITE) && $(CLIENT_SUITE)
test-client-official: build-client
	$(CLIENT_OFFICIAL_SUITE)

## The seed chat page in Chromium, served by the edge worker (client and server are ours).
E2E_SUITE = WASMIO_PREBUILT=1 node --test --test-timeout=180000 tests/e2e/
test-e2e: build-client build-worker
	$(E2E_SUITE)

## The demo app in Chromium (several browser contexts) against the chat deployment: rooms,
## presence, typing, the shared whiteboard, a reload, a cut transport; its server's checks and
## the operations endpoint.
DEMO_SUITE = WASMIO_PREBUILT=1 node --test --test-timeout=180000 tests/demo/
test-demo: build-worker build-app
	$(DEMO_SUITE)

## `make test`'s last stretch: the lifecycle suite, mostly waiting for real evictions, runs
## beside the client, e2e and demo suites (about 4 of its 8.5 minutes saved here); its output
## is printed once it ends. The builds come first, once: the suites run on what they built.
test-browsers-beside-lifecycle: build-client build-worker build-app
	@log=$$(mktemp); ( $(LIFECYCLE_SUITE) ) > "$$log" 2>&1 & lifecycle=$$!; \
	trap 'kill $$lifecycle 2>/dev/null; rm -f "$$log"' INT TERM; \
	$(CLIENT_SUITE) && $(E2E_SUITE) && $(DEMO_SUITE); others=$$?; \
	wait $$lifecycle; status=$$?; \
	echo "=== the lifecycle suite (ran beside the others, exit status $$status)"; cat "$$log"; rm -f "$$log"; \
	[ $$others -eq 0 ] && [ $$status -eq 0 ]

## The demo app's pictures in docs/ (chat, whiteboard, operations view), taken in Chromium.
screenshots: setup build-worker build-app
	WASMIO_PREBUILT=1 node scripts/screenshots.mjs

## Fuzz every decoder for FUZZ_SECONDS (default 60) each.
fuzz:
	@bash scripts/fuzz.sh

## Every fuzz target for a short smoke time (`make fuzz` runs them longer).
test-fuzz:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-10} bash scripts/fuzz.sh

## The browser client's bytes against socket.io-client and its budget, and the wasm's top
## consumers (twiggy).
size: setup build-client
	bash scripts/size-report.sh

## Benchmarks (ratios against the official packages, measured side by side).
bench: setup build-client build-worker
	bash bench/run.sh
