// socket.io-client's own Node test suite (official-suite/: its test folder, MIT, see the
// README there), run with mocha twice against the root's socket.io 4.8.4 server on
// 127.0.0.1:3210: once on the official socket.io-client 4.8.4, where every test passes, and once
// on wasmio (pkg/node.js), where every test passes too, those that reach into socket.io-client's
// private members included (`socket.onpacket()`, `socket._queue`, `engine.emit("data")`); four
// whose 50-100 ms limit also counts a connection get three tries (run.mjs's TIMING_RETRIES). A
// test that fails, a suite file edited (SHA256SUMS) or a run that ran fewer tests than the
// suite has fails this file.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HERE, TESTS, assertFailures, runSuite } from "./official-suite/run.mjs";

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("socket.io-client's official Node test suite", () => {
  it("is the upstream files (the two support files adapted are listed in its README)", () => {
    for (const line of readFileSync(join(HERE, "SHA256SUMS"), "utf8").trim().split("\n")) {
      const [sum, file] = line.split(/\s+/);
      assert.equal(sha256(join(HERE, file)), sum, `${file} differs from SHA256SUMS`);
    }
  });

  it(`official socket.io-client: all ${TESTS} pass`, async () => {
    const report = await runSuite("official");
    console.log(`official: ${report.stats.passes}/${report.stats.tests} passed, retried: ${report.retried.join("; ") || "none"}`);
    assertFailures(report, new Map(), "the official client");
  });

  it(`wasmio: all ${TESTS} pass`, async () => {
    const report = await runSuite("wasmio");
    console.log(`wasmio: ${report.stats.passes}/${report.stats.tests} passed, retried: ${report.retried.join("; ") || "none"}`);
    assertFailures(report, new Map(), "wasmio");
  });
});
