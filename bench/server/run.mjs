// Server benchmark (issue 5), run by bench/server/run.sh. One load driver (driver.mjs, raw
// Engine.IO v4 / Socket.IO v5 frames over `ws` or HTTP long-polling, this process) against
//   ours:     the edge worker under `wrangler dev -c wrangler.bench.toml` (the bench
//             application, src/bench.rs: the handlers of the other two; SHARDS=1,
//             pingInterval 25 s, no static assets: like the floor, no assets router in front
//             of its requests);
//   official: socket.io 4.8.4 on Node (official.mjs), polling and WebSocket;
//   floor:    a minimal JavaScript hibernatable Durable Object (floor/) in the same
//             wrangler/workerd: the platform floor (WebSocket and long-polling).
// Servers are pinned to core SERVER_CPU (default 1) with taskset, this driver to DRIVER_CPU
// (default 0, by run.sh). The driver talks to the workerd that runs each worker directly,
// not through wrangler dev's local proxy (see workerdEntry).
//
// ROUNDS (default 5) rounds run the servers interleaved (ours, official, floor, ours, ...),
// each part on a freshly started server (one that has already freed connections reuses that
// memory), first:
//   memory: resident memory (RSS, summed over the server's process tree: wrangler + workerd,
//           or node) with idle connections open minus before them, per connection, at
//           MEMORY_SMALL (1,000) and MEMORY_LARGE (5,000) WebSocket connections and at
//           MEMORY_SMALL polling connections;
// then, after an unmeasured warm-up (echo and pipe on each transport), every scenario of
// driver.mjs on every transport the server supports (the echo and the handshakes also read
// the server's CPU time per operation, from /proc); last, on the two workers started afresh
// once more, two cold-wake samples on one connection (driver.mjs coldWake: silent
// COLD_WAKE_IDLE_MS, default 18 s, then one echo timed: the object's first wake in its
// isolate, then, after its next ping, its next wake in the same isolate; each counted only if
// the instance that answered it started after it was sent, as its instance start tells: ours
// through the conformance deployment's `/api/objects`, the floor through `/instance`). Figures are
// medians over the rounds.
// Prints a table, writes bench/results/server.json.
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { SIZES, coldWake, connectLatency, echo, fanout, handshakes, httpRoundTrip, openIdle, pipe, seq } from "./driver.mjs";
import { HAVE_TASKSET, ROOT, cpuMs, descendants, start, startWrangler as startWranglerDev, stop, workerdEntry, workerdProcesses, wranglerVersion } from "../servers.mjs";

const ROUNDS = Number(process.env.ROUNDS || 5);
const FANOUT = Number(process.env.FANOUT || 1000);
// FANOUT_POLLING (default 1,000): the room size over long-polling.
const FANOUT_POLLING = Number(process.env.FANOUT_POLLING || 1000);
const MEMORY_SMALL = Number(process.env.MEMORY_SMALL || 1000);
const MEMORY_LARGE = Number(process.env.MEMORY_LARGE || 5000);
const SERVER_CPU = process.env.SERVER_CPU ?? "1";
// Silence before each cold-wake sample: local workerd evicts an idle object about 10 s after
// its last event; ours pings 25 s after the handshake, which would wake it.
const COLD_WAKE_IDLE_MS = Number(process.env.COLD_WAKE_IDLE_MS || 18_000);
// BENCH_SERVERS (e.g. "ours,floor") runs a subset, for development.
const SERVERS = (process.env.BENCH_SERVERS || "ours,official,floor").split(",");
const LABELS = {
  ours: "ours: wasmio edge worker (wrangler dev's workerd)",
  official: "official: socket.io 4.8.4 (Node)",
  floor: "floor: minimal JS Durable Object (wrangler dev's workerd)",
};
const TRANSPORTS = { ours: ["websocket", "polling"], official: ["websocket", "polling"], floor: ["websocket", "polling"] };
async function startWrangler(cwd, config) {
  const { url, proc } = await startWranglerDev(cwd, { config, cpu: SERVER_CPU });
  return { url: (await workerdEntry(proc)) ?? url, proc };
}


async function startOfficial() {
  const proc = start(process.execPath, [join(ROOT, "bench/server/official.mjs")], ROOT, SERVER_CPU);
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
  if (server === "ours") return startWrangler(join(ROOT, "deployments/conformance"), "wrangler.bench.toml");
  if (server === "official") return startOfficial();
  return startWrangler(join(ROOT, "bench/server/floor"));
}


/**
 * The process that runs the server itself: for a worker the workerd serving it (not wrangler's
 * Node process, nor its proxy's workerd, which the driver bypasses), else the server's own.
 */
function serverProcess(proc) {
  return workerdProcesses(proc)[0] ?? proc.child.pid;
}

/** Resident memory of `pid` and all its descendants, in bytes. */
function treeRss(pid) {
  let kib = 0;
  for (const p of descendants(pid)) {
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
const fanoutSize = (t) => (t === "polling" ? FANOUT_POLLING : FANOUT);
const METRICS = [];
for (const t of ["websocket", "polling"]) {
  const group = GROUPS[t];
  if (t === "polling")
    METRICS.push(
      { key: "polling.http.p50_ms", label: "one HTTP request (GET answered 400 unknown sid) p50", group, unit: "ms", higher: false },
      { key: "polling.http.p99_ms", label: "one HTTP request (GET answered 400 unknown sid) p99", group, unit: "ms", higher: false },
    );
  METRICS.push(
    { key: `${t}.echo.p50_ms`, label: "sequential echo round trip (message -> message-back) p50", group, unit: "ms", higher: false },
    { key: `${t}.echo.p99_ms`, label: "sequential echo round trip (message -> message-back) p99", group, unit: "ms", higher: false },
    { key: `${t}.seq.p50_ms`, label: "sequential echo + ack round trip p50", group, unit: "ms", higher: false },
    { key: `${t}.seq.p99_ms`, label: "sequential echo + ack round trip p99", group, unit: "ms", higher: false },
    { key: `${t}.pipe.acks_per_s`, label: "pipelined echo + ack throughput (64 in flight)", group, unit: "acks/s", higher: true },
    { key: `${t}.fanout.deliveries_per_s`, label: `fan-out to ${fanoutSize(t).toLocaleString("en-US")} clients`, group, unit: "deliveries/s", higher: true },
    { key: `${t}.fanout.p50_ms`, label: `fan-out to ${fanoutSize(t).toLocaleString("en-US")} clients, delivery latency p50`, group, unit: "ms", higher: false },
    { key: `${t}.fanout.p99_ms`, label: `fan-out to ${fanoutSize(t).toLocaleString("en-US")} clients, delivery latency p99`, group, unit: "ms", higher: false },
    { key: `${t}.connect.p50_ms`, label: "connect latency (transport open -> CONNECT ack) p50", group, unit: "ms", higher: false },
    { key: `${t}.connect.p99_ms`, label: "connect latency (transport open -> CONNECT ack) p99", group, unit: "ms", higher: false },
    { key: `${t}.handshake.per_s`, label: "handshake rate (32 in flight)", group, unit: "handshakes/s", higher: true },
  );
}
// The server's own CPU time (user + system: the workerd that runs the worker, or node) per
// operation of four scenarios: what a latency or a rate leaves out, and steadier than either
// on a shared machine.
const CPU_SCENARIOS = [
  ["websocket", "echo", "echo (message -> message-back)"],
  ["websocket", "handshake", "handshake (open, CONNECT, close)"],
  ["polling", "echo", "echo (message -> message-back)"],
  ["polling", "handshake", "handshake (open, CONNECT, close)"],
];
for (const [t, scenario, what] of CPU_SCENARIOS)
  METRICS.push({ key: `cpu.${t}.${scenario}.ms_per_op`, label: `server CPU per ${what}, ${GROUPS[t]}`, group: "server CPU", unit: "ms", higher: false });
// One sample per round on the workers (Node's server has no eviction).
METRICS.push({ key: "coldwake.websocket.ms", label: "a message to an evicted object until its echo", group: "cold wake", unit: "ms", higher: false });
METRICS.push({ key: "coldwake.websocket.again.ms", label: "the same, the object's next wake in the same isolate", group: "cold wake", unit: "ms", higher: false });
/** When the current instance of the one Socket.IO object of `server` at `url` started. */
async function instanceStarted(server, url) {
  const path = server === "ours" ? "/api/objects" : "/instance";
  const answer = await (await fetch(`${url}${path}`)).json();
  return (server === "ours" ? answer.find((o) => o.object === "0") : answer)?.instanceStartedMs;
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
async function speedRound(server, url, proc) {
  const r = {};
  const run = (name, scenario) => scenario().catch((e) => Promise.reject(new Error(`${server} ${name}: ${e.stack}`)));
  /** `scenario` run while the server's CPU time is read: its result, and ms per `ops`. */
  const pid = serverProcess(proc);
  const timed = async (name, scenario, ops) => {
    const before = cpuMs(pid);
    const result = await run(name, scenario);
    return [result, (cpuMs(pid) - before) / ops];
  };
  const http = await run("http", () => httpRoundTrip(url));
  Object.assign(r, { "polling.http.p50_ms": http.p50_ms, "polling.http.p99_ms": http.p99_ms });
  for (const t of TRANSPORTS[server]) {
    const [e, echoCpu] = await timed(`${t} echo`, () => echo(url, t), SIZES[t].seq + SIZES[t].seqWarmup);
    const s = await run(`${t} seq`, () => seq(url, t));
    const p = await run(`${t} pipe`, () => pipe(url, t));
    const f = await run(`${t} fanout`, () => fanout(url, fanoutSize(t), t));
    const c = await run(`${t} connect`, () => connectLatency(url, t));
    const [h, handshakeCpu] = await timed(`${t} handshakes`, () => handshakes(url, t), SIZES[t].handshakes);
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
      [`cpu.${t}.echo.ms_per_op`]: echoCpu,
      [`cpu.${t}.handshake.ms_per_op`]: handshakeCpu,
    });
  }
  return r;
}

/** Idle memory per connection on a fresh server: KiB per connection at each memory point. */
async function memoryRound(server, url, proc) {
  const r = {};
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
    await sleep(3000); // the server handles the closes before the speed scenarios
  }
  return r;
}

/** Unmeasured: JIT and caches warm for the speed scenarios. */
async function warmUp(server, url) {
  for (const t of TRANSPORTS[server]) {
    await echo(url, t);
    await pipe(url, t);
  }
}

async function main() {
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  console.error(`taskset: ${HAVE_TASKSET ? `servers on CPU ${SERVER_CPU}` : "missing"}; ${ROUNDS} rounds of ${SERVERS.join(", ")}`);
  const samples = Object.fromEntries(SERVERS.map((s) => [s, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of SERVERS) {
      let { url, proc } = await startServer(server);
      try {
        const memory = await memoryRound(server, url, proc);
        // The speed scenarios on a server started afresh too: under wrangler dev every HTTP
        // request to a worker leaves sockets open in wrangler's own processes for a while
        // (floor and ours alike, measured 2026-12-02: 15,753 after the memory round's
        // 1,000 polling connections), and one round on one server reached a limit of
        // 20,000 open files, at which workerd stops accepting and logs without end.
        await stop(proc);
        ({ url, proc } = await startServer(server));
        await warmUp(server, url);
        const r = { ...memory, ...(await speedRound(server, url, proc)) };
        if (server !== "official") {
          // On a server started afresh again: one connection, no other session whose timers
          // (heartbeats, the expiry of closed polling sessions) could wake the object in the
          // silence. Counted only when the echo did wake a new instance (see coldWake).
          await stop(proc);
          ({ url, proc } = await startServer(server));
          const { first, again } = await coldWake(url, COLD_WAKE_IDLE_MS, () => instanceStarted(server, url));
          Object.assign(r, {
            "coldwake.websocket.ms": first.evicted ? first.ms : null,
            "coldwake.websocket.evicted": first.evicted,
            "coldwake.websocket.again.ms": again.evicted ? again.ms : null,
            "coldwake.websocket.again.evicted": again.evicted,
          });
        }
        samples[server].push(r);
        const f = (k) => (r[k] === undefined ? "-" : r[k] >= 100 ? r[k].toFixed(0) : r[k].toFixed(3));
        console.error(
          `[${elapsed()}] round ${round}/${ROUNDS} ${server}: ` +
            `ws echo p50 ${f("websocket.echo.p50_ms")} ms, pipe ${f("websocket.pipe.acks_per_s")}/s, fan-out ${f("websocket.fanout.deliveries_per_s")}/s, ` +
            `handshakes ${f("websocket.handshake.per_s")}/s, ${f(`memory.websocket.${MEMORY_LARGE}.kib_per_connection`)} KiB/conn; ` +
            `polling echo p50 ${f("polling.echo.p50_ms")} ms, fan-out ${f("polling.fanout.deliveries_per_s")}/s; ` +
            `cold wake ${r["coldwake.websocket.evicted"] === false ? "not evicted" : `${f("coldwake.websocket.ms")} ms`}, ` +
            `again ${r["coldwake.websocket.again.evicted"] === false ? "not evicted" : `${f("coldwake.websocket.again.ms")} ms`}`,
        );
      } catch (e) {
        const logFile = join(tmpdir(), `wasmio-bench-${server}.log`);
        writeFileSync(logFile, proc.log());
        console.error(`${server} failed; its log: ${logFile}`);
        throw e;
      } finally {
        await stop(proc);
      }
    }
  }
  const medians = Object.fromEntries(
    ["ours", "official", "floor"].map((s) => [s, Object.fromEntries(METRICS.map(({ key }) => [key, median((samples[s] ?? []).map((r) => r[key] ?? null))]))]),
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
      const [o, f, fl] = ["ours", "official", "floor"].map((s) => medians[s][key]);
      lines.push(`| ${label}, ${unit} | ${fmt(o)} | ${fmt(f)} | ${fmt(fl)} | ${verdict(o, f, higher)} | ${verdict(o, fl, higher)} |`);
    }
  }
  console.log(lines.join("\n"));
  const wrangler = wranglerVersion();
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
        cold_wake_sample: "the instance that answered started after the echo was sent",
        fanout_clients: { websocket: FANOUT, polling: FANOUT_POLLING },
        sizes: SIZES,
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
