// Runs socket.io-client's own test suite (./suite) with mocha, for the tests that use it:
// tests/client/official-suite.test.mjs (both clients against the suite's own Node server) and
// tests/edge/official-client-suite.test.mjs (both clients against the edge worker).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = dirname(fileURLToPath(import.meta.url));
const MOCHA = join(HERE, "../../../node_modules/.bin/mocha");
/** The suite's files, as its package.json's test:node runs them (test/index.ts), but url.ts:
 * that one tests socket.io-client's private build/cjs/url module, which wasmio has no copy of. */
export const FILES = ["connection.ts", "socket.ts", "node.ts", "connection-state-recovery.ts", "retry.ts"];
/** How many tests those files hold. */
export const TESTS = 100;
/** Long enough for any passing test here (the slowest takes about 0.3 s). */
const MOCHA_TIMEOUT_MS = 5_000;
const RUN_TIMEOUT_MS = 120_000;
/**
 * Tests given two more tries when they fail (timing-retries.cjs), and why: their time limit
 * also counts a connection being made. `timeout(50)` counts from an emit made before the
 * socket connected, so 50 ms hold a handshake, a CONNECT and the echo; the other two count
 * what happened within 100 ms of `io()`, a connection included. Against the suite's Node
 * server a connection takes about 10 ms, but fresh-clone `make test` runs of 2026-12-07, which
 * ran this file beside the lifecycle suite's workerd restarts on 2 cores, saw the official
 * socket.io-client take longer: the first test once, then in another run the first twice, its
 * `(promise)` twin three times, and the other two once (wasmio passed them all). `make test`
 * now runs the file on its own. A retry is reported (`retried`); three failed tries still fail
 * the test.
 */
export const TIMING_RETRIES = [
  ...["", " (promise)"].map((suffix) => `socket timeout should not timeout when the server does acknowledge the event${suffix}`),
  "socket should not try to reconnect after a middleware failure",
  "socket should properly disconnect then reconnect",
];

/**
 * Runs the suite's mocha with `client` ("official" or "wasmio") under test, in a process group
 * of its own (the autoUnref tests start fixture processes; no-unref.ts's outlives its test, and
 * on failure another may too), which is killed whole once mocha ends or at RUN_TIMEOUT_MS.
 * With `ownServer`, the suite's support/hooks.ts starts its Node server on 127.0.0.1:3210;
 * without, a server must listen there already. Resolves with the report of mocha's
 * `json-stream` reporter (`{ stats, failures, retried }`, retried: how the tests that
 * were tried again ended), read as the tests end: a run cut at
 * RUN_TIMEOUT_MS tells how far it got and what failed until then.
 */
export async function runSuite(client, { ownServer = true } = {}) {
  assert.ok(existsSync(MOCHA), "node_modules/.bin/mocha is missing (make setup runs npm ci)");
  const env = { ...process.env, CLIENT: client, WASMIO_TIMING_RETRIES: JSON.stringify(TIMING_RETRIES) };
  delete env.NODE_TEST_CONTEXT; // the node:test runner's: not for mocha or the fixtures
  const args = ["--import=tsx", "--require", "leftover-clock.cjs", "--require", "timing-retries.cjs",
    ...(ownServer ? ["--require", "suite/support/hooks.ts"] : []),
    "--timeout", String(MOCHA_TIMEOUT_MS), "--exit",
    "--reporter", "json-stream", ...FILES.map((f) => `suite/${f}`)];
  const child = spawn(MOCHA, args, { cwd: HERE, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const killGroup = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {} // the group is already empty
  };
  process.once("exit", killGroup); // an interrupted run leaves nothing either
  // The reporter's events are the stdout lines that are JSON arrays; the rest (the fixtures'
  // and the clients' own output) is kept for a failure's message.
  const events = [];
  let output = "";
  let partial = "";
  const take = (line) => {
    const event = line.startsWith('["') ? parseEvent(line) : undefined;
    if (event) events.push(event);
    else output = (output + line + "\n").slice(-20_000);
  };
  child.stdout.on("data", (d) => {
    const lines = (partial + d).split("\n");
    partial = lines.pop();
    lines.forEach(take);
  });
  child.stderr.on("data", (d) => (output = (output + d).slice(-20_000)));
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), killGroup()), RUN_TIMEOUT_MS);
  try {
    const [code, signal] = await new Promise((resolve) => child.on("close", (...a) => resolve(a)));
    take(partial); // a last line without its newline
    const ended = events.find(([kind]) => kind === "end");
    const passed = events.filter(([kind]) => kind === "pass").map(([, t]) => t.fullTitle);
    const failures = events.filter(([kind]) => kind === "fail").map(([, t]) => ({ fullTitle: t.fullTitle, err: { message: t.err } }));
    const progress = () =>
      `${passed.length} passed, the last: ${passed.slice(-3).join("; ") || "none"}; ` +
      `${failures.length} failed: ${failures.map((t) => `${t.fullTitle}: ${t.err.message}`).join("; ") || "none"}; ` +
      `its other output:\n${output}`;
    assert.ok(!timedOut, `${client}: mocha still running after ${RUN_TIMEOUT_MS} ms: ${progress()}`);
    assert.ok(ended, `${client}: mocha ended (exit ${code ?? signal}) without its report: ${progress()}`);
    const retried = events
      .filter(([kind, t]) => (kind === "pass" || kind === "fail") && t.currentRetry > 0)
      .map(([kind, t]) => `${t.fullTitle}: ${kind === "pass" ? `passed on try ${t.currentRetry + 1}` : `failed all ${t.currentRetry + 1} tries`}`);
    return { stats: ended[1], failures, retried };
  } finally {
    clearTimeout(timer);
    killGroup();
    process.off("exit", killGroup);
  }
}

/** One line of mocha's `json-stream` reporter (`[kind, details]`), or undefined. */
function parseEvent(line) {
  try {
    const event = JSON.parse(line);
    return Array.isArray(event) && typeof event[0] === "string" ? event : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asserts that the tests `report` failed are exactly the keys of `expected` (full title ->
 * why it is accepted), leaving out those of `timing` (full title -> why), which may pass or
 * fail; that none was skipped and that the others passed.
 */
export function assertFailures(report, expected, who, timing = new Map()) {
  const failed = [...new Set(report.failures.map((t) => t.fullTitle))].filter((t) => !timing.has(t)).sort();
  const newlyFailing = failed.filter((t) => !expected.has(t));
  const newlyPassing = [...expected.keys()].filter((t) => !failed.includes(t));
  const details = report.failures.map((t) => `  ${t.fullTitle}: ${t.err.message}`).join("\n");
  assert.deepEqual(
    failed,
    [...expected.keys()].sort(),
    [
      newlyFailing.length ? `newly failing for ${who}: ${newlyFailing.join("; ")}` : "",
      newlyPassing.length ? `expected to fail but passed for ${who} (update the expected failures): ${newlyPassing.join("; ")}` : "",
      `failures:\n${details}`,
    ].filter(Boolean).join("\n"),
  );
  assert.equal(report.stats.pending, 0);
  const least = TESTS - expected.size - timing.size;
  assert.ok(report.stats.passes >= least, `${who}: only ${report.stats.passes} tests passed, expected at least ${least}`);
}
