// The bytes a page loads for the browser client, ESM entry, minified, each file gzipped on its
// own (node zlib, level 9): pkg/dist/wasmio.min.mjs (the shim and the wasm-bindgen glue, as a
// bundler ships them) and the .wasm it fetches, against socket.io-client 4.8.4's
// socket.io.esm.min.js; and the budget in bench/sizes/client-budget.json that `make test`
// holds them to (tests/client/size.test.mjs): lowered as the client shrinks, never raised.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const gzip = (path) => gzipSync(readFileSync(join(ROOT, path)), { level: 9 }).length;

/** The measured sizes, in bytes. */
export function clientSizes() {
  const files = { "pkg/dist/wasmio.min.mjs": gzip("pkg/dist/wasmio.min.mjs"), "pkg/wasm/wasmio_bg.wasm": gzip("pkg/wasm/wasmio_bg.wasm") };
  const ours = Object.values(files).reduce((a, b) => a + b, 0);
  const official = gzip("node_modules/socket.io-client/dist/socket.io.esm.min.js");
  const budget = JSON.parse(readFileSync(join(ROOT, "bench/sizes/client-budget.json"), "utf8"));
  // The classic <script> build loads its script and socket.io.wasm.
  const classic = gzip("pkg/dist/socket.io.js") + gzip("pkg/dist/socket.io.wasm");
  return { files, ours, official, ratio: ours / official, budget: budget.esm_gzip_bytes, classic };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = clientSizes();
  for (const [file, bytes] of Object.entries(s.files)) console.log(`${file.padEnd(28)} ${String(bytes).padStart(7)} B gzip`);
  console.log(`${"wasmio ESM, what a page loads".padEnd(28)} ${String(s.ours).padStart(7)} B gzip`);
  console.log(`${"socket.io-client 4.8.4 ESM".padEnd(28)} ${String(s.official).padStart(7)} B gzip`);
  console.log(`${"wasmio classic build".padEnd(28)} ${String(s.classic).padStart(7)} B gzip (${((100 * s.classic) / s.ours - 100).toFixed(1)}% above the ESM entry)`);
  console.log(`ratio ${s.ratio.toFixed(2)}x (goal 2.0x = ${Math.floor(2 * s.official)} B, first milestone 3.0x = ${Math.floor(3 * s.official)} B); budget ${s.budget} B`);
}
