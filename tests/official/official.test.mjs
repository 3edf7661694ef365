// The official protocol test suites (Engine.IO v4: 25 tests, Socket.IO v5: 32 tests), run
// unmodified with their own mocha against `make conformance`'s worker under real workerd.
// The copies here are checked byte for byte against SHA256SUMS (and against ../shared's
// copy when the checkout has one beside it), so a suite edited to pass fails this test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "../edge/harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const SHARED = join(HERE, "../../../shared/conformance");
const SUITES = { "engine.io-v4": 25, "socket.io-v5": 32 };

let worker;
before(async () => {
  worker = await startWorker("conformance");
});
after(() => worker?.stop());

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Runs one suite's mocha against the worker; resolves with mocha's JSON report. */
function runSuite(name) {
  const cwd = join(HERE, name);
  const mocha = join(cwd, "node_modules/.bin/mocha");
  assert.ok(existsSync(mocha), `${name}: its node_modules are missing (make setup runs npm ci there)`);
  return new Promise((resolve) => {
    const child = spawn(mocha, ["--reporter", "json", "test-suite.js"], {
      cwd,
      env: { ...process.env, SUITE_URL: worker.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => process.stderr.write(d));
    child.on("close", () => resolve(JSON.parse(output.slice(output.indexOf("{")))));
  });
}

describe("official protocol suites", () => {
  it("are the published files, unmodified", () => {
    for (const line of readFileSync(join(HERE, "SHA256SUMS"), "utf8").trim().split("\n")) {
      const [sum, file] = line.split(/\s+/);
      assert.equal(sha256(join(HERE, file)), sum, `${file} differs from SHA256SUMS`);
      if (existsSync(join(SHARED, file))) {
        assert.equal(sha256(join(HERE, file)), sha256(join(SHARED, file)), `${file} differs from ../shared/conformance`);
      }
    }
  });

  for (const [name, expected] of Object.entries(SUITES)) {
    it(`${name}: all ${expected} pass`, async () => {
      const report = await runSuite(name);
      const passed = report.passes.map((t) => t.fullTitle);
      const failed = report.failures.map((t) => `${t.fullTitle}: ${t.err.message}`);
      console.log(`${name}: ${passed.length}/${expected} passed`);
      for (const f of failed) console.log(`  failed: ${f}`);
      assert.equal(report.stats.tests, expected, "the whole suite ran");
      assert.equal(report.stats.pending, 0);
      assert.deepEqual(failed, []);
      assert.equal(passed.length, expected);
    });
  }
});
