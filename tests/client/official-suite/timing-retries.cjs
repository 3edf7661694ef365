// wasmio (added, not upstream): a mocha root hook that gives the tests named in
// WASMIO_TIMING_RETRIES (a JSON list of full titles) two more tries when they fail. Those are
// tests whose time limit also counts a connection being made (run.mjs's TIMING_RETRIES): a busy
// machine can push one past it. A test still fails when its three tries all fail, and run.mjs
// reports every retry (mocha's json-stream reporter gives each test's `currentRetry`).
const titles = new Set(JSON.parse(process.env.WASMIO_TIMING_RETRIES || "[]"));

exports.mochaHooks = {
  beforeEach() {
    if (titles.has(this.currentTest.fullTitle())) this.currentTest.retries(2);
  },
};
