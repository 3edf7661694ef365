// Server benchmark (issue 5, first part), run by bench/server/run.sh. One load driver
// (driver.mjs, raw Engine.IO v4 / Socket.IO v5 frames over `ws`, this process) against
//   ours:     the edge worker under `wrangler dev --env bench` (conformance handlers,
//             SHARDS=1, pingInterval 25 s);
//   official: socket.io 4.8.4 on Node (official.mjs), WebSocket transport only;
//   floor:    a minimal JavaScript hibernatable Durable Object (floor/) in the same
//             wrangler/workerd: the platform floor.
// Servers are pinned to core SERVER_CPU (default 1) with taskset, this driver to DRIVER_CPU
// (default 0, by run.sh). After one discarded warm-up round, ROUNDS (default 5) rounds run
// the servers interleaved (ours, official, floor, ours, ...), each server through every
// scenario; figures are medians over the rounds. Prints a table, writes
// bench/results/server.json.
import { execSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { echo, fanout, pipe, seq } from "./driver.mjs";
import { freePort } from "../../tests/edge/harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.env.ROUNDS || 5);
const FANOUT = Number(process.env.FANOUT || 1000);
const SERVER_CPU = process.env.SERVER_CPU ?? "1";
const SERVERS = ["ours", "official", "floor"];
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
  return waitHttp(`http://127.0.0.1:${port}`, proc);
}

async function startOfficial() {
  const proc = start(process.execPath, [join(ROOT, "bench/server/official.mjs")], ROOT);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /PORT (\d+)/.exec(proc.log());
    if (m) return `http://127.0.0.1:${m[1]}`;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`official server did not start:\n${proc.log()}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const METRICS = [
  // key, label, higher is better
  ["echo.p50_ms", "sequential echo round trip (message -> message-back) p50, ms", false],
  ["echo.p99_ms", "sequential echo round trip (message -> message-back) p99, ms", false],
  ["seq.p50_ms", "sequential echo+ack round trip p50, ms", false],
  ["seq.p99_ms", "sequential echo+ack round trip p99, ms", false],
  ["pipe.acks_per_s", "pipelined echo+ack throughput (64 in flight), acks/s", true],
  ["fanout.deliveries_per_s", `fan-out to ${FANOUT} clients, deliveries/s`, true],
  ["fanout.p50_ms", `fan-out to ${FANOUT} clients, delivery latency p50, ms`, false],
  ["fanout.p99_ms", `fan-out to ${FANOUT} clients, delivery latency p99, ms`, false],
];
const get = (r, key) => key.split(".").reduce((o, k) => o[k], r);

async function main() {
  const t0 = Date.now();
  console.error(`starting servers (taskset: ${HAVE_TASKSET ? `servers on CPU ${SERVER_CPU}` : "missing"})`);
  const urls = {};
  [urls.ours, urls.official, urls.floor] = await Promise.all([
    startWrangler(join(ROOT, "edge-worker"), "bench"),
    startOfficial(),
    startWrangler(join(ROOT, "bench/server/floor")),
  ]);
  const samples = Object.fromEntries(SERVERS.map((s) => [s, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    for (const server of SERVERS) {
      const url = urls[server];
      const r = { echo: await echo(url), seq: await seq(url), pipe: await pipe(url), fanout: await fanout(url, FANOUT) };
      if (round > 0) samples[server].push(r); // round 0 is a warm-up
      console.error(
        `round ${round}${round ? "" : " (warm-up)"} ${server}: echo p50 ${r.echo.p50_ms.toFixed(3)}, seq p50 ${r.seq.p50_ms.toFixed(3)} p99 ${r.seq.p99_ms.toFixed(3)} ms, ` +
          `pipe ${r.pipe.acks_per_s.toFixed(0)}/s, fan-out ${r.fanout.deliveries_per_s.toFixed(0)}/s p99 ${r.fanout.p99_ms.toFixed(1)} ms`,
      );
    }
  }
  const medians = Object.fromEntries(
    SERVERS.map((s) => [s, Object.fromEntries(METRICS.map(([k]) => [k, median(samples[s].map((r) => get(r, k)))]))]),
  );
  const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3));
  const verdict = (ours, other, higher) => {
    const better = higher ? ours >= other : ours <= other;
    const x = higher ? (better ? ours / other : other / ours) : better ? other / ours : ours / other;
    return `${x.toFixed(2)}x ${better ? "better" : "worse"}`;
  };
  const lines = [
    "| metric | ours (edge worker) | official 4.8.4 | JS floor (DO) | official/ours | floor/ours | ours vs official | ours vs floor |",
    "|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const [k, label, higher] of METRICS) {
    const [o, f, fl] = SERVERS.map((s) => medians[s][k]);
    lines.push(
      `| ${label} | ${fmt(o)} | ${fmt(f)} | ${fmt(fl)} | ${(f / o).toFixed(2)} | ${(fl / o).toFixed(2)} | ${verdict(o, f, higher)} | ${verdict(o, fl, higher)} |`,
    );
  }
  console.log(lines.join("\n"));
  let cpu = cpus()[0]?.model ?? "?";
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
        machine: { cpu, cores: cpus().length, node: process.version, wrangler, taskset: HAVE_TASKSET, server_cpu: SERVER_CPU },
        rounds: ROUNDS,
        fanout_clients: FANOUT,
        scenarios: { echo: "1,000 sequential message -> message-back (after 100 warm-up)", seq: "1,000 sequential acked emits (after 100 warm-up)", pipe: "10,000 acked emits, 64 in flight, one socket", fanout: `${FANOUT} sockets in one room, 5 broadcasts (after 1 warm-up)` },
        medians,
        samples,
        table: lines.join("\n"),
        seconds: (Date.now() - t0) / 1000,
      },
      null,
      2,
    ) + "\n",
  );
  console.error(`wrote bench/results/server.json in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
