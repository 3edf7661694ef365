// Server benchmark (issue 5), run by bench/server/run.sh. One load driver (driver.mjs, raw
// Engine.IO v4 / Socket.IO v5 frames over `ws` or HTTP long-polling, this process) against
//   ours:     the edge worker under `wrangler dev --env bench` (conformance handlers,
//             SHARDS=1, pingInterval 25 s);
//   official: socket.io 4.8.4 on Node (official.mjs), polling and WebSocket;
//   floor:    a minimal JavaScript hibernatable Durable Object (floor/) in the same
//             wrangler/workerd: the platform floor (WebSocket only).
// Servers are pinned to core SERVER_CPU (default 1) with taskset, this driver to DRIVER_CPU
// (default 0, by run.sh).
//
// Speed: after one discarded warm-up round, ROUNDS (default 5) rounds run the servers
// interleaved (ours, official, floor, ours, ...), each server through every scenario of
// driver.mjs on every transport it supports; figures are medians over the rounds.
// Memory: ROUNDS more rounds, interleaved the same way, each on freshly started servers (a
// server that has already freed connections reuses that memory): resident memory (RSS, summed
// over the server's process tree: wrangler, workerd, or node) with the idle connections open
// minus before them, per connection, at MEMORY_SMALL (1,000) and MEMORY_LARGE (5,000)
// WebSocket connections and at MEMORY_SMALL polling connections.
// Prints a table, writes bench/results/server.json.
import { execSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectLatency, echo, fanout, handshakes, openIdle, pipe, seq } from "./driver.mjs";
import { freePort } from "../../tests/edge/harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.env.ROUNDS || 5);
const FANOUT = Number(process.env.FANOUT || 1000);
const MEMORY_SMALL = Number(process.env.MEMORY_SMALL || 1000);
const MEMORY_LARGE = Number(process.env.MEMORY_LARGE || 5000);
const SERVER_CPU = process.env.SERVER_CPU ?? "1";
const SERVERS = ["ours", "official", "floor"];
const LABELS = {
  ours: "ours: wasmio edge worker (wrangler dev)",
  official: "official: socket.io 4.8.4 (Node)",
  floor: "floor: minimal JS Durable Object (wrangler dev)",
};
const TRANSPORTS = { ours: ["websocket", "polling"], official: ["websocket", "polling"], floor: ["websocket"] };
const HAVE_TASKSET = spawnSync("taskset", ["-V"]).status === 0;
const children = [];

/** Spawns `cmd args` pinned to SERVER_CPU in its own process group. */
function start(cmd, args, cwd) {
  const [file, argv] = HAVE_TASKSET ? ["taskset", ["-c", SERVER_CPU, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WASMIO_PREBUILT: "1", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  children.push(child);
  return { child, log: () => log };
}

/** Stops one server started by `start` (its whole process group) and waits for it to exit. */
async function stop(proc) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once("exit", r));
  try {
    process.kill(-proc.child.pid, "SIGKILL");
  } catch {}
  await exited;
}

function stopAll() {
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
}
process.once("exit", stopAll);
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(1));

async function waitHttp(url, proc) {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`server exited:\n${proc.log()}`);
    try {
      await fetch(`${url}/`);
      return url;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`server did not start in time:\n${proc.log()}`);
}

async function startWrangler(cwd, env) {
  const port = await freePort();
  const inspector = await freePort();
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-ip", "127.0.0.1", "--inspector-port", String(inspector),
    "--show-interactive-dev-session=false", "--persist-to", mkdtempSync(join(tmpdir(), "wasmio-bench-")),
  ];
  if (env) args.push("--env", env);
  const proc = start(join(ROOT, "node_modules/.bin/wrangler"), args, cwd);
  return { url: await waitHttp(`http://127.0.0.1:${port}`, proc), proc };
}

async function startOfficial() {
  const proc = start(process.execPath, [join(ROOT, "bench/server/official.mjs")], ROOT);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /PORT (\d+)/.exec(proc.log());
    if (m) return { url: `http://127.0.0.1:${m[1]}`, proc };
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`official server did not start:\n${proc.log()}`);
}

/** Starts one server of SERVERS: `{ url, proc }`. */
function startServer(server) {
  if (server === "ours") return startWrangler(join(ROOT, "edge-worker"), "bench");
  if (server === "official") return startOfficial();
  return startWrangler(join(ROOT, "bench/server/floor"));
}

/** Resident memory of `pid` and all its descendants, in bytes (Linux /proc). */
function treeRss(pid) {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {} // the process exited meanwhile
  }
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, parent] of parents)
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grew = true;
      }
  }
  let kib = 0;
  for (const p of tree) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return kib * 1024;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const GROUPS = { websocket: "WebSocket", polling: "long-polling" };
const METRICS = [];
for (const t of ["websocket", "polling"]) {
  const group = GROUPS[t];
  METRICS.push(
    { key: `${t}.echo.p50_ms`, label: "sequential echo round trip (message -> message-back) p50", group, unit: "ms", higher: false },
    { key: `${t}.echo.p99_ms`, label: "sequential echo round trip (message -> message-back) p99", group, unit: "ms", higher: false },
    { key: `${t}.seq.p50_ms`, label: "sequential echo + ack round trip p50", group, unit: "ms", higher: false },
    { key: `${t}.seq.p99_ms`, label: "sequential echo + ack round trip p99", group, unit: "ms", higher: false },
    { key: `${t}.pipe.acks_per_s`, label: "pipelined echo + ack throughput (64 in flight)", group, unit: "acks/s", higher: true },
    { key: `${t}.fanout.deliveries_per_s`, label: `fan-out to ${FANOUT.toLocaleString("en-US")} clients, deliveries/s`, group, unit: "deliveries/s", higher: true },
    { key: `${t}.fanout.p50_ms`, label: `fan-out to ${FANOUT.toLocaleString("en-US")} clients, delivery latency p50`, group, unit: "ms", higher: false },
    { key: `${t}.fanout.p99_ms`, label: `fan-out to ${FANOUT.toLocaleString("en-US")} clients, delivery latency p99`, group, unit: "ms", higher: false },
    { key: `${t}.connect.p50_ms`, label: "connect latency (transport open -> CONNECT ack) p50", group, unit: "ms", higher: false },
    { key: `${t}.connect.p99_ms`, label: "connect latency (transport open -> CONNECT ack) p99", group, unit: "ms", higher: false },
    { key: `${t}.handshake.per_s`, label: "handshake rate (32 in flight)", group, unit: "handshakes/s", higher: true },
  );
}
const MEMORY_POINTS = [
  ["websocket", MEMORY_SMALL],
  ["websocket", MEMORY_LARGE],
  ["polling", MEMORY_SMALL],
];
for (const [t, n] of MEMORY_POINTS)
  METRICS.push({
    key: `memory.${t}.${n}.kib_per_connection`,
    label: `idle memory per connection at ${n.toLocaleString("en-US")} ${GROUPS[t]} connections (RSS delta / n)`,
    group: "memory",
    unit: "KiB",
    higher: false,
  });

/** One speed round of one server: every scenario on every transport it supports, flat. */
async function speedRound(server, url) {
  const r = {};
  for (const t of TRANSPORTS[server]) {
    const [e, s, p, f, c, h] = [
      await echo(url, t),
      await seq(url, t),
      await pipe(url, t),
      await fanout(url, FANOUT, t),
      await connectLatency(url, t),
      await handshakes(url, t),
    ];
    Object.assign(r, {
      [`${t}.echo.p50_ms`]: e.p50_ms,
      [`${t}.echo.p99_ms`]: e.p99_ms,
      [`${t}.seq.p50_ms`]: s.p50_ms,
      [`${t}.seq.p99_ms`]: s.p99_ms,
      [`${t}.pipe.acks_per_s`]: p.acks_per_s,
      [`${t}.fanout.deliveries_per_s`]: f.deliveries_per_s,
      [`${t}.fanout.p50_ms`]: f.p50_ms,
      [`${t}.fanout.p99_ms`]: f.p99_ms,
      [`${t}.connect.p50_ms`]: c.p50_ms,
      [`${t}.connect.p99_ms`]: c.p99_ms,
      [`${t}.handshake.per_s`]: h.per_s,
    });
  }
  return r;
}

/** Idle memory per connection on a fresh server: KiB per connection at each memory point. */
async function memoryRound(server) {
  const { url, proc } = await startServer(server);
  const r = {};
  try {
    for (const t of TRANSPORTS[server]) {
      // Warm the server up (code paths, the Durable Object) with a few connections first.
      for (const c of await openIdle(url, 10, t)) c.close();
      await sleep(2000);
      const base = treeRss(proc.child.pid);
      const open = [];
      for (const [pt, n] of MEMORY_POINTS) {
        if (pt !== t) continue;
        open.push(...(await openIdle(url, n - open.length, t)));
        await sleep(3000);
        r[`memory.${t}.${n}.kib_per_connection`] = (treeRss(proc.child.pid) - base) / 1024 / n;
      }
      for (const c of open) c.close();
      await sleep(1000);
    }
  } finally {
    await stop(proc);
  }
  return r;
}

async function main() {
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  console.error(`starting servers (taskset: ${HAVE_TASKSET ? `servers on CPU ${SERVER_CPU}` : "missing"})`);
  const running = Object.fromEntries(SERVERS.map((s, i) => [s, null]));
  await Promise.all(SERVERS.map(async (s) => (running[s] = await startServer(s))));
  const samples = Object.fromEntries(SERVERS.map((s) => [s, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    for (const server of SERVERS) {
      const r = await speedRound(server, running[server].url);
      if (round > 0) samples[server].push(r); // round 0 is a warm-up
      const f = (k) => (r[k] === undefined ? "-" : r[k] >= 100 ? r[k].toFixed(0) : r[k].toFixed(3));
      console.error(
        `[${elapsed()}] speed round ${round}/${ROUNDS}${round ? "" : " (warm-up)"} ${server}: ` +
          `ws echo p50 ${f("websocket.echo.p50_ms")} ms, pipe ${f("websocket.pipe.acks_per_s")}/s, fan-out ${f("websocket.fanout.deliveries_per_s")}/s, ` +
          `handshakes ${f("websocket.handshake.per_s")}/s; polling echo p50 ${f("polling.echo.p50_ms")} ms, fan-out ${f("polling.fanout.deliveries_per_s")}/s`,
      );
    }
  }
  for (const s of SERVERS) await stop(running[s].proc);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of SERVERS) {
      const r = await memoryRound(server);
      const i = round - 1;
      samples[server][i] = { ...samples[server][i], ...r };
      console.error(
        `[${elapsed()}] memory round ${round}/${ROUNDS} ${server}: ` +
          Object.entries(r).map(([k, v]) => `${k.split(".").slice(1, 3).join(" ")}: ${v.toFixed(1)} KiB/conn`).join(", "),
      );
    }
  }
  const medians = Object.fromEntries(
    SERVERS.map((s) => [s, Object.fromEntries(METRICS.map(({ key }) => [key, median(samples[s].map((r) => r[key] ?? null))]))]),
  );
  const fmt = (v) => (v === null ? "n/a" : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3));
  const verdict = (ours, other, higher) => {
    if (ours === null || other === null) return "n/a";
    const better = higher ? ours >= other : ours <= other;
    const x = higher ? (better ? ours / other : other / ours) : better ? other / ours : ours / other;
    return `${x.toFixed(2)}x ${better ? "better" : "worse"}`;
  };
  const lines = [];
  for (const group of [...new Set(METRICS.map((m) => m.group))]) {
    lines.push("", `${group}:`, "", "| metric | ours | official | floor | ours vs official | ours vs floor |", "|---|---:|---:|---:|---|---|");
    for (const { key, label, unit, higher, group: g } of METRICS) {
      if (g !== group) continue;
      const [o, f, fl] = SERVERS.map((s) => medians[s][key]);
      lines.push(`| ${label}, ${unit} | ${fmt(o)} | ${fmt(f)} | ${fmt(fl)} | ${verdict(o, f, higher)} | ${verdict(o, fl, higher)} |`);
    }
  }
  console.log(lines.join("\n"));
  let wrangler = "?";
  try {
    wrangler = execSync(`${join(ROOT, "node_modules/.bin/wrangler")} --version`, { encoding: "utf8" }).trim().split("\n").pop();
  } catch {}
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(
    join(ROOT, "bench/results/server.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        commit: execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim(),
        command: "bash bench/server/run.sh",
        machine: { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, node: process.version, wrangler, taskset: HAVE_TASKSET, server_cpu: SERVER_CPU },
        rounds: ROUNDS,
        servers: LABELS,
        transports: TRANSPORTS,
        metrics: METRICS,
        medians,
        samples,
        seconds: (Date.now() - t0) / 1000,
      },
      null,
      2,
    ) + "\n",
  );
  console.error(`wrote bench/results/server.json in ${elapsed()}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
