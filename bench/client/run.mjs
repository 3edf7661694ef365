// Browser client benchmark (run by bench/client/run.sh): wasmio's ESM entry bundled and
// minified as a bundler ships it ("ours": pkg/dist/wasmio.min.mjs and its wasm, the bytes the
// size report counts), socket.io-client 4.8.4's socket.io.esm.min.js ("official") and the
// browser's ceiling (bench/client/ceiling.js: one WebSocket, each frame parsed once), each one
// module in a fresh headless Chromium context, all against the official socket.io 4.8.4 server
// in this process. Rounds are interleaved (ours, official, ceiling, ours, ...) after one
// discarded warm-up round; each metric is the median over ROUNDS (default 11: this shared machine moves a 7-round median by 10-20%) rounds:
//   (a) the server emits 10,000 small events as fast as it can: received events/s (first to
//       last event, performance.now() in the page) and the renderer main thread's CPU time
//       for them (CDP Performance.getMetrics TaskDuration / ScriptDuration deltas, thread
//       CPU ticks);
//   (b) 1,000 sequential emitWithAck round trips: emits/s;
//   (c) 10,000 emits of a small object in one task, then one acknowledged emit that the
//       server answers with how many it received: the main thread's CPU time for them;
//   (d) navigation start -> `connect` (module load, wasm compile for ours, handshake);
//   (e) once, not timed: the calls between JavaScript and wasm per received event and per
//       emitWithAck round trip, counted by a copy of the wasm-bindgen glue whose imports and
//       exports count their calls (served under /counted/).
// Throughput runs on the upgraded transport (WebSocket) after an unmeasured warm-up in the
// same page. Prints a table, writes bench/results/client.json.
import { execSync } from "node:child_process";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.env.ROUNDS || 11);
const EVENTS = 10_000;
const ACKS = 1_000;
const EMITS = 10_000;
// "ceiling": bench/client/ceiling.js, the least any client can do in the page; what the browser
// and the server allow, the reference a speed goal is judged against.
const CLIENTS = ["ours", "official", "ceiling"];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
const FILES = {
  "/pkg/": join(ROOT, "pkg"),
  "/counted/": join(ROOT, "pkg"),
  "/bench/": join(ROOT, "bench/client"),
  "/official/": join(ROOT, "node_modules/socket.io-client/dist"),
};

function startStatic() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const mount = Object.keys(FILES).find((m) => path.startsWith(m));
    const file = mount && normalize(join(FILES[mount], path.slice(mount.length)));
    if (!file || !file.startsWith(FILES[mount])) return res.writeHead(404).end();
    try {
      let body = await readFile(file);
      if (path === "/counted/wasm/wasmio.js") body = countingGlue(body.toString());
      res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

function startIo() {
  const http = createServer();
  const io = new Server(http, { cors: { origin: true } });
  io.on("connection", (socket) => {
    socket.on("flood", (n) => {
      for (let i = 0; i < n; i++) socket.emit("tick", i, "hello");
    });
    socket.on("echo", (i, _text, cb) => cb(i));
    let moves = 0;
    socket.on("move", () => moves++);
    socket.on("moves", (cb) => {
      cb(moves);
      moves = 0;
    });
  });
  return new Promise((r) => http.listen(0, "127.0.0.1", () => r({ io, http })));
}

/**
 * The wasm-bindgen glue with every import (wasm -> JS) and export (JS -> wasm) counting its calls
 * in `globalThis.__calls`; throws if the glue no longer has the shape this expects.
 */
function countingGlue(glue) {
  const wrap = (prefix) =>
    `Object.fromEntries(Object.entries(%).map(([k, f]) => [k, typeof f !== "function" ? f : function (...a) {` +
    ` const c = (globalThis.__calls ||= {}); c["${prefix}" + k] = (c["${prefix}" + k] || 0) + 1; return f.apply(this, a); }]))`;
  const edits = [
    [/("[^"]+"): import0,/, `$1: ${wrap("wasm->js ").replace("%", "import0")},`],
    [/wasm = instance\.exports;/, `wasm = ${wrap("js->wasm ").replace("%", "instance.exports")};`],
  ];
  for (const [from, to] of edits) {
    if (!from.test(glue)) throw new Error(`bench/client: the wasm-bindgen glue has no \`${from}\` to count calls at`);
    glue = glue.replace(from, to);
  }
  return glue;
}

/**
 * The name the build gave a counted call (`wasm->js <import>` or `js->wasm <export>`), from the
 * mapping scripts/minify-wasm-names.mjs wrote when it shortened them.
 */
function original(counted) {
  const names = JSON.parse(readFileSync(join(ROOT, "target/client-std/wasm-names.json"), "utf8"));
  const [direction, name] = counted.split(" ");
  return `${direction} ${(direction === "wasm->js" ? names.imports : names.exports)[name] ?? name}`;
}

/** Calls between JavaScript and wasm per received event and per emitWithAck round trip. */
async function countCrossings(browser, webUrl, ioUrl) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${webUrl}/bench/page.html?client=counted&server=${encodeURIComponent(ioUrl)}`);
    await page.waitForFunction(() => window.ready === true);
    await page.evaluate(() => window.upgraded);
    const count = (run, n) =>
      page.evaluate(
        async ([run, n]) => {
          globalThis.__calls = {};
          await window[run](n);
          return globalThis.__calls;
        },
        [run, n],
      );
    const summary = (calls, n) => ({
      total: Object.values(calls).reduce((a, b) => a + b, 0) / n,
      byFunction: Object.fromEntries(
        Object.entries(calls).map(([k, v]) => [
          original(k).replace(/_[0-9a-f]{16}(?=_|$)/g, ""),
          v / n,
        ]),
      ),
    });
    return { receivedEvent: summary(await count("flood", EVENTS), EVENTS), ackRoundTrip: summary(await count("acks", ACKS), ACKS) };
  } finally {
    await context.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function metrics(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

/** One client in a fresh context: connect time, then the measured runs on WebSocket. */
async function measure(browser, client, webUrl, ioUrl) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable", { timeDomain: process.env.TIME_DOMAIN || "threadTicks" });
    await page.goto(`${webUrl}/bench/page.html?client=${client}&server=${encodeURIComponent(ioUrl)}`);
    await page.waitForFunction(() => window.ready === true);
    const { connectMs } = await page.evaluate(() => window.connected);
    await page.evaluate(() => window.upgraded);
    // Warm-up (JIT, buffers), not measured.
    await page.evaluate(() => window.flood(1000));
    await page.evaluate(() => window.acks(100));
    await page.evaluate(() => window.burst(1000));

    const before = await metrics(cdp);
    const flood = await page.evaluate((n) => window.flood(n), EVENTS);
    const after = await metrics(cdp);
    if (flood.count !== EVENTS || flood.sum !== (EVENTS * (EVENTS - 1)) / 2 + 5 * EVENTS)
      throw new Error(`${client}: wrong events ${JSON.stringify(flood)}`);
    const acks = await page.evaluate((n) => window.acks(n), ACKS);
    if (acks.sum !== (ACKS * (ACKS - 1)) / 2) throw new Error(`${client}: wrong acks ${JSON.stringify(acks)}`);
    const beforeBurst = await metrics(cdp);
    const moves = await page.evaluate((n) => window.burst(n), EMITS);
    const afterBurst = await metrics(cdp);
    if (moves !== EMITS) throw new Error(`${client}: the server received ${moves} of ${EMITS} emits`);
    if (errors.length) throw errors[0];
    return {
      eventsPerSec: (EVENTS / flood.ms) * 1000,
      taskMs: (after.TaskDuration - before.TaskDuration) * 1000,
      scriptMs: (after.ScriptDuration - before.ScriptDuration) * 1000,
      acksPerSec: (ACKS / acks.ms) * 1000,
      emitTaskMs: (afterBurst.TaskDuration - beforeBurst.TaskDuration) * 1000,
      connectMs,
    };
  } finally {
    await context.close();
  }
}

const ROWS = [
  ["eventsPerSec", `received events/s (${EVENTS.toLocaleString("en")} events)`, "higher"],
  ["taskMs", `main-thread CPU ms per ${EVENTS.toLocaleString("en")} events (TaskDuration)`, "lower"],
  ["scriptMs", `script CPU ms per ${EVENTS.toLocaleString("en")} events (ScriptDuration)`, "lower"],
  ["acksPerSec", `emits/s with ack (${ACKS.toLocaleString("en")} sequential emitWithAck)`, "higher"],
  // TaskDuration: the sends a client defers to a microtask (engine.io-client's drain) are not
  // in ScriptDuration.
  ["emitTaskMs", `main-thread CPU ms per ${EMITS.toLocaleString("en")} emits in one task (TaskDuration)`, "lower"],
  ["connectMs", "navigation -> connect, ms", "lower"],
];

async function main() {
  const web = await startStatic();
  const { io, http } = await startIo();
  const webUrl = `http://127.0.0.1:${web.address().port}`;
  const ioUrl = `http://127.0.0.1:${http.address().port}`;
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ],
  });
  const samples = Object.fromEntries(CLIENTS.map((client) => [client, []]));
  const t0 = Date.now();
  let crossings;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (const client of CLIENTS) {
        const r = await measure(browser, client, webUrl, ioUrl);
        if (round > 0) samples[client].push(r); // round 0 warms the browser and the server up
      }
      process.stderr.write(round === 0 ? "warm-up done\n" : `round ${round}/${ROUNDS}\n`);
    }
    crossings = await countCrossings(browser, webUrl, ioUrl);
  } finally {
    await browser.close().catch(() => {});
    io.close();
    web.close();
  }

  const version = browser.version();
  const results = {
    date: new Date().toISOString(),
    commit: execSync("git rev-parse --short HEAD", { cwd: ROOT }).toString().trim(),
    chromium: version,
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model}`,
    rounds: ROUNDS,
    events: EVENTS,
    acks: ACKS,
    server: "socket.io 4.8.4 (same process as the driver)",
    transport: "websocket (after the polling -> websocket upgrade)",
    wasmBytes: (await readFile(join(ROOT, "pkg/wasm/wasmio_bg.wasm"))).length,
    seconds: Math.round((Date.now() - t0) / 1000),
    crossings,
    metrics: {},
  };
  const lines = [
    "| metric | ours (wasmio) | official 4.8.4 | ceiling (one WebSocket, one parse) | ratio official/ours | ours vs official |",
    "|---|---:|---:|---:|---:|---|",
  ];
  for (const [key, label, better] of ROWS) {
    const ours = median(samples.ours.map((s) => s[key]));
    const official = median(samples.official.map((s) => s[key]));
    const ceiling = median(samples.ceiling.map((s) => s[key]));
    const ratio = official / ours;
    const gain = better === "higher" ? ours / official : official / ours;
    const verdict =
      Math.abs(gain - 1) < 0.02 ? "same (within 2%)" : gain > 1 ? `${gain.toFixed(2)}x better` : `${(1 / gain).toFixed(2)}x worse`;
    results.metrics[key] = {
      label,
      better,
      ours: { median: ours, samples: samples.ours.map((s) => s[key]) },
      official: { median: official, samples: samples.official.map((s) => s[key]) },
      ceiling: { median: ceiling, samples: samples.ceiling.map((s) => s[key]) },
      ratioOfficialOverOurs: ratio,
    };
    const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(1));
    lines.push(`| ${label} | ${fmt(ours)} | ${fmt(official)} | ${fmt(ceiling)} | ${ratio.toFixed(2)} | ${verdict} |`);
  }
  await mkdir(join(ROOT, "bench/results"), { recursive: true });
  await writeFile(join(ROOT, "bench/results/client.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(`Client benchmark: ${ROUNDS} interleaved rounds, medians; Chromium ${version}, ${results.cpu}`);
  console.log(lines.join("\n"));
  console.log(
    `Calls between JavaScript and wasm (ours, counted): ${crossings.receivedEvent.total.toFixed(2)} per received event, ` +
      `${crossings.ackRoundTrip.total.toFixed(2)} per emitWithAck round trip`,
  );
  console.log(`(${results.seconds} s; raw samples in bench/results/client.json)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
