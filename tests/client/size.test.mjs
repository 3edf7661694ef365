// The size ratchet of the browser client: what a page loads through the ESM entry (the
// minified shim and glue, and the wasm), gzipped, stays within bench/sizes/client-budget.json.
// Bytes are deterministic for a given toolchain (rust-nightly, Cargo.lock, node_modules).
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientSizes } from "../../bench/sizes/client-size.mjs";

test("the ESM client's gzip bytes stay within the budget", () => {
  const s = clientSizes();
  assert.ok(
    s.ours <= s.budget,
    `${s.ours} B gzip (${JSON.stringify(s.files)}) is over the budget of ${s.budget} B; ${s.ratio.toFixed(2)}x socket.io-client's ${s.official} B`,
  );
});

test("the classic build loads at most 10% more than the ESM entry", () => {
  const s = clientSizes();
  assert.ok(s.classic <= 1.1 * s.ours, `classic ${s.classic} B gzip, ESM ${s.ours} B`);
});
