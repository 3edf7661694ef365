// socket.io-client's own Node test suite (official-suite/: its test folder, MIT, see the
// README there), run with mocha twice against the root's socket.io 4.8.4 server on
// 127.0.0.1:3210: once on the official socket.io-client 4.8.4, where every test passes, and once
// on wasmio (pkg/node.js), where every test passes but the EXPECTED_WASMIO_FAILURES below. A test
// that newly fails on wasmio, or an expected failure that now passes, fails this file; so does a
// suite file edited (SHA256SUMS) or a run that ran fewer tests than the suite has.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = join(dirname(fileURLToPath(import.meta.url)), "official-suite");
const MOCHA = join(HERE, "../../../node_modules/.bin/mocha");
/** The suite's files, as its package.json's test:node runs them (test/index.ts), but url.ts:
 * that one tests socket.io-client's private build/cjs/url module, which wasmio has no copy of. */
const FILES = ["connection.ts", "socket.ts", "node.ts", "connection-state-recovery.ts", "retry.ts"];
/** How many tests those files hold. */
const TESTS = 100;
/** Long enough for any passing test here (the slowest takes about 0.3 s). */
const MOCHA_TIMEOUT_MS = 5_000;
const RUN_TIMEOUT_MS = 120_000;

/** The tests wasmio fails, by mocha's full title, and why that is accepted. */
const EXPECTED_WASMIO_FAILURES = new Map([
  [
    "connection should emit a connect_error event when reaching a Socket.IO server in v2.x",
    "calls the private socket.onpacket() to inject a v2.x CONNECT packet; wasmio's Socket has no such method (packets are parsed in wasm)",
  ],
  [
    "connection should close the engine upon decoding exception",
    'injects a frame with the private engine.emit("data", ...); wasmio\'s engine object only reports events, its frames are decoded in wasm',
  ],
  [
    "retry should preserve the order of the packets",
    "reads the private socket._queue (the retry queue), which wasmio keeps inside the wasm driver",
  ],
  [
    "retry should fail when the server does not acknowledge the packet",
    "reads the private socket._queue (the retry queue), which wasmio keeps inside the wasm driver",
  ],
]);

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

/**
 * Runs the suite's mocha with `client` ("official" or "wasmio") under test, in a process group
 * of its own (the autoUnref tests start fixture processes; no-unref.ts's outlives its test, and
 * on failure another may too), which is killed whole once mocha ends or at RUN_TIMEOUT_MS.
 * Resolves with mocha's JSON report.
 */
async function runSuite(client) {
  assert.ok(existsSync(MOCHA), "node_modules/.bin/mocha is missing (make setup runs npm ci)");
  const dir = mkdtempSync(join(tmpdir(), "wasmio-official-suite-"));
  const report = join(dir, "report.json");
  const env = { ...process.env, CLIENT: client };
  delete env.NODE_TEST_CONTEXT; // the node:test runner's: not for mocha or the fixtures
  const args = ["--import=tsx", "--require", "suite/support/hooks.ts", "--timeout", String(MOCHA_TIMEOUT_MS), "--exit",
    "--reporter", "json", "--reporter-option", `output=${report}`, ...FILES.map((f) => `suite/${f}`)];
  const child = spawn(MOCHA, args, { cwd: HERE, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const killGroup = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {} // the group is already empty
  };
  process.once("exit", killGroup); // an interrupted run leaves nothing either
  let output = "";
  const keep = (d) => (output = (output + d).slice(-20_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), killGroup()), RUN_TIMEOUT_MS);
  try {
    const [code, signal] = await new Promise((resolve) => child.on("close", (...a) => resolve(a)));
    assert.ok(!timedOut, `${client}: mocha still running after ${RUN_TIMEOUT_MS} ms; its output:\n${output}`);
    assert.ok(existsSync(report), `${client}: mocha wrote no report (exit ${code ?? signal}); its output:\n${output}`);
    return JSON.parse(readFileSync(report, "utf8"));
  } finally {
    clearTimeout(timer);
    killGroup();
    process.off("exit", killGroup);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's failures as "full title: message" lines. */
const describeFailures = (report) => report.failures.map((t) => `  ${t.fullTitle}: ${t.err.message}`).join("\n");

describe("socket.io-client's official Node test suite", () => {
  it("is the upstream files (the two support files adapted are listed in its README)", () => {
    for (const line of readFileSync(join(HERE, "SHA256SUMS"), "utf8").trim().split("\n")) {
      const [sum, file] = line.split(/\s+/);
      assert.equal(sha256(join(HERE, file)), sum, `${file} differs from SHA256SUMS`);
    }
  });

  it(`official socket.io-client: all ${TESTS} pass`, async () => {
    const report = await runSuite("official");
    console.log(`official: ${report.stats.passes}/${report.stats.tests} passed`);
    assert.deepEqual(report.failures.map((t) => t.fullTitle), [], `failures:\n${describeFailures(report)}`);
    assert.equal(report.stats.pending, 0);
    assert.ok(report.stats.passes >= TESTS, `only ${report.stats.passes} of ${TESTS} tests passed`);
  });

  it(`wasmio: all pass but the ${EXPECTED_WASMIO_FAILURES.size} expected failures`, async () => {
    const report = await runSuite("wasmio");
    console.log(`wasmio: ${report.stats.passes}/${report.stats.tests} passed`);
    const failed = [...new Set(report.failures.map((t) => t.fullTitle))].sort();
    const expected = [...EXPECTED_WASMIO_FAILURES.keys()].sort();
    const newlyFailing = failed.filter((t) => !EXPECTED_WASMIO_FAILURES.has(t));
    const newlyPassing = expected.filter((t) => !failed.includes(t));
    assert.deepEqual(
      failed,
      expected,
      [
        newlyFailing.length ? `newly failing on wasmio: ${newlyFailing.join("; ")}` : "",
        newlyPassing.length ? `expected to fail but passed (update EXPECTED_WASMIO_FAILURES): ${newlyPassing.join("; ")}` : "",
        `failures:\n${describeFailures(report)}`,
      ].filter(Boolean).join("\n"),
    );
    assert.equal(report.stats.pending, 0);
    const least = TESTS - EXPECTED_WASMIO_FAILURES.size;
    assert.ok(report.stats.passes >= least, `only ${report.stats.passes} tests passed, expected at least ${least}`);
  });
});
