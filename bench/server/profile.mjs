// Where the edge's WebSocket CPU goes, ours against the JavaScript floor: the reason behind the
// server bench's WebSocket ratios, backed by a profile (issue 13 asks for one for every miss).
//
//   node bench/server/profile.mjs            (ECHOES=20000 ROUNDS=2 by default; needs `perf`)
//
// Prints two tables and writes bench/results/server-profile.json, which bench/report.mjs shows
// beside the server bench in BENCHMARKS.md.
//
// Each round starts both servers under `wrangler dev` (as bench/server/run.mjs does, on CPU 1;
// this driver is not pinned) and measures two scenarios on one WebSocket, each after 3,000
// unmeasured operations: sequential echoes (message -> message-back, one in flight) and
// pipelined acknowledgements (message-with-ack, 64 in flight, as the bench's pipelined
// scenario). Per scenario: ECHOES operations while `perf record` samples workerd's process at
// 4,999 Hz, then as many again without perf for workerd's CPU per operation from /proc and for
// how often this driver, the server's peer, went to sleep (its voluntary context switches: each
// one is a wake-up the server pays for in the kernel when its next frame arrives). Samples are
// sorted into buckets by where they fell; a bucket's cost per operation is its samples x the
// sampling period / ECHOES. Buckets: the kernel (the socket reads and writes, waking the peer,
// the event loop's wait), workerd and KJ (its I/O, WebSocket and event plumbing), V8's
// builtins (interpreter, inline caches, typed-array and call trampolines: the glue's JavaScript
// in its lower tiers), V8's runtime (C++), the allocator (tcmalloc), and JIT code (the wasm,
// and the JavaScript V8 compiled). Run alone on the machine: the figures are CPU time.
import { spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, pipelinedAcks } from "./driver.mjs";
import { ROOT, cpuMs, startWrangler, stop, workerdEntry, workerdProcesses } from "../servers.mjs";

const ECHOES = Number(process.env.ECHOES || 20_000);
const ROUNDS = Number(process.env.ROUNDS || 2);
const HZ = 4999;
const SERVERS = {
  ours: [join(ROOT, "deployments/conformance"), "wrangler.bench.toml"],
  floor: [join(ROOT, "bench/server/floor"), undefined],
};
const BUCKETS = ["kernel", "workerd+kj", "v8 builtins", "v8 runtime", "allocator", "jit (wasm, js)", "other"];

if (spawnSync("perf", ["--version"]).status !== 0) {
  console.error("bench/server/profile: needs perf (apt-get install linux-perf, or linux-tools for this kernel)");
  process.exit(2);
}

/** The bucket of one `perf report` row (its dso and symbol). */
function bucket(dso, sym) {
  if (dso.startsWith("[kernel")) return "kernel";
  if (dso.startsWith("[JIT]") || sym.startsWith("JS:")) return "jit (wasm, js)";
  if (sym.startsWith("Builtins_")) return "v8 builtins";
  if (/tcmalloc|TCMalloc/.test(sym)) return "allocator";
  if (/v8::|cppgc::|simdutf::/.test(sym)) return "v8 runtime";
  if (/kj::|workerd::|capnp::/.test(sym)) return "workerd+kj";
  return "other";
}

/** Samples per bucket of a perf recording. */
function buckets(data) {
  const out = spawnSync("perf", ["report", "-i", data, "--stdio", "--sort", "dso,sym", "-F", "sample,dso,sym"], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  }).stdout;
  const counts = Object.fromEntries(BUCKETS.map((b) => [b, 0]));
  for (const line of out.split("\n")) {
    const m = /^\s+(\d+)\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m) counts[bucket(m[2], m[3])] += Number(m[1]);
  }
  return counts;
}

/** The measured scenarios: `run(c, n)` does n operations on connection `c`. */
const SCENARIOS = {
  echo: { label: "sequential echo (one in flight)", run: echoes },
  pipelined: { label: "pipelined acknowledgements (64 in flight)", run: pipelinedAcks },
};

/** `n` sequential `message` -> `message-back` round trips on connection `c`. */
async function echoes(c, n) {
  const payload = JSON.stringify(["message", "hello", { n: 1 }]);
  for (let i = 0; i < n; i++) await new Promise((r) => ((c.onEvent = r), c.emit(payload)));
}

/** One scenario on a warm connection `c` of workerd `pid`: its buckets (us per operation,
 * under perf), workerd's CPU and this driver's sleeps per operation (without perf). */
async function measure(c, pid, scenario, name) {
  const { run } = SCENARIOS[scenario];
  await run(c, 3000);
  const data = join(tmpdir(), `wasmio-profile-${name}-${scenario}.data`);
  const perf = spawn("perf", ["record", "-q", "-F", String(HZ), "-p", String(pid), "-o", data], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1000)); // perf attached
  await run(c, ECHOES);
  perf.kill("SIGINT");
  await new Promise((r) => perf.once("exit", r));
  const before = { cpu: cpuMs(pid), sleeps: process.resourceUsage().voluntaryContextSwitches };
  await run(c, ECHOES);
  const cpuUs = ((cpuMs(pid) - before.cpu) / ECHOES) * 1000;
  const peerSleeps = (process.resourceUsage().voluntaryContextSwitches - before.sleeps) / ECHOES;
  const us = Object.fromEntries(Object.entries(buckets(data)).map(([b, n]) => [b, (n * 1e6) / HZ / ECHOES]));
  rmSync(data, { force: true });
  return { cpuUs, peerSleeps, us };
}

/** Both scenarios on a fresh `server`. */
async function profile(server, round) {
  const [cwd, config] = SERVERS[server];
  const { url, proc } = await startWrangler(cwd, { config, cpu: "1" });
  try {
    const base = (await workerdEntry(proc)) ?? url;
    const pid = workerdProcesses(proc)[0];
    const c = await connect(base, { transport: "websocket" });
    const out = {};
    for (const scenario of Object.keys(SCENARIOS)) out[scenario] = await measure(c, pid, scenario, `${server}-${round}`);
    c.close();
    return out;
  } finally {
    await stop(proc);
  }
}

const results = { ours: [], floor: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const server of ["ours", "floor"]) {
    const r = await profile(server, round);
    results[server].push(r);
    for (const [scenario, m] of Object.entries(r)) {
      const parts = BUCKETS.map((b) => `${b} ${m.us[b].toFixed(1)}`).join(", ");
      console.error(
        `round ${round + 1} ${server} ${scenario}: ${m.cpuUs.toFixed(1)} us CPU and ${m.peerSleeps.toFixed(2)} peer sleeps ` +
          `per operation without perf; under perf: ${parts}`,
      );
    }
  }
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (us) => Object.values(us).reduce((a, b) => a + b, 0);
const scenarios = {};
for (const [scenario, { label }] of Object.entries(SCENARIOS)) {
  const means = (f) => Object.fromEntries(["ours", "floor"].map((s) => [s, mean(results[s].map((r) => f(r[scenario])))]));
  const rows = [
    ...BUCKETS.map((b) => ({ where: b, ...means((m) => m.us[b]) })),
    { where: "all sampled (under perf)", ...means((m) => sum(m.us)) },
    { where: "workerd's CPU without perf (/proc)", ...means((m) => m.cpuUs) },
  ];
  const peerSleeps = means((m) => m.peerSleeps);
  scenarios[scenario] = { label, rows, peerSleeps };
  console.log(`WebSocket ${label}, CPU per operation in us (${ROUNDS} rounds of ${ECHOES}, means)\n`);
  console.log("| where | ours | floor | ours - floor |\n|---|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.where} | ${r.ours.toFixed(1)} | ${r.floor.toFixed(1)} | ${(r.ours - r.floor).toFixed(1)} |`);
  console.log(`\nthe driver slept ${peerSleeps.ours.toFixed(2)} times per operation with ours, ${peerSleeps.floor.toFixed(2)} with the floor\n`);
}
const file = join(ROOT, "bench/results/server-profile.json");
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), echoes: ECHOES, rounds: ROUNDS, hz: HZ, scenarios }, null, 2) + "\n");
console.log(`written: ${file}`);
process.exit(0);
