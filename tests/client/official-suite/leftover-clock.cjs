// wasmio (added, not upstream): a mocha root hook that takes off fake timers a test left
// installed. connection.ts's "reconnect timeout" tests install @sinonjs/fake-timers on the
// global and uninstall them at their end, so one that fails between the two leaves
// `setTimeout` faked for every later test: they all hang until mocha's timeout, and the run
// until its own ("Can't install fake timers twice on the same global object", then 5,000 ms
// timeouts, in a fresh-clone `make test` of 2026-12-05). With this hook the failure stays
// the one test's.
exports.mochaHooks = {
  afterEach() {
    const clock = globalThis.Date.isFake ? globalThis.Date.clock : undefined;
    if (clock) clock.uninstall();
  },
};
