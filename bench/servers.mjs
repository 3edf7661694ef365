// Local servers for the benchmarks: each in its own process group, optionally pinned to a
// core, killed (with its temporary storage removed) when the benchmark exits; and the
// wrangler version the results record.
import { execSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, workerdOptions } from "../tests/edge/harness.mjs";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Whether `taskset` can pin servers to a core here. */
export const HAVE_TASKSET = spawnSync("taskset", ["-V"]).status === 0;

const children = [];
const tempDirs = [];
process.once("exit", () => {
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(1));

/** How much of a server's output `start` keeps, in characters (the end of it). */
const LOG_KEPT = 1 << 20;

/**
 * Spawns `cmd args` in `cwd`, in its own process group, pinned to core `cpu` when given (and
 * taskset exists): `{ child, log() }`, the log being the end of its stdout and stderr so far.
 */
export function start(cmd, args, cwd, cpu) {
  const [file, argv] = cpu !== undefined && HAVE_TASKSET ? ["taskset", ["-c", String(cpu), cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WASMIO_PREBUILT: "1", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  const { keep, log } = tail();
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  children.push(child);
  return { child, log };
}

/**
 * A server's output as it comes (`keep`), of which `log()` returns the last LOG_KEPT
 * characters: a server that logs without end (workerd out of file descriptors logs each
 * refused accept) must not exhaust this process's string length.
 */
function tail() {
  let log = "";
  const keep = (d) => {
    log += d;
    if (log.length > 2 * LOG_KEPT) log = log.slice(-LOG_KEPT);
  };
  return { keep, log: () => log };
}

/** Stops one server started by `start` (its whole process group) and waits for it to exit. */
export async function stop(proc) {
  if (proc.miniflare) return proc.miniflare.dispose();
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once("exit", r));
  try {
    process.kill(-proc.child.pid, "SIGKILL");
  } catch {}
  await exited;
}

/** Resolves with `url` once it answers HTTP; fails if the server exits or takes 4 minutes. */
export async function waitHttp(url, proc) {
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

/**
 * `wrangler dev` of the project in `cwd` (its configuration file `config`, by default
 * wrangler.toml; its environment `env`) on a free loopback port, with fresh local storage,
 * logging warnings only (no line per request: wrangler's Node process may share the server's
 * core): `{ url, proc }` once it answers.
 */
export async function startWrangler(cwd, { config, env, cpu, vars = {} } = {}) {
  const port = await freePort();
  const inspector = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "wasmio-bench-"));
  tempDirs.push(persist);
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-ip", "127.0.0.1", "--inspector-port", String(inspector),
    "--show-interactive-dev-session=false", "--persist-to", persist,
    "--log-level", process.env.WRANGLER_LOG_LEVEL || "warn",
  ];
  if (config) args.push("--config", config);
  if (env) args.push("--env", env);
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  const proc = start(join(ROOT, "node_modules/.bin/wrangler"), args, cwd, cpu);
  return { url: await waitHttp(`http://127.0.0.1:${port}`, proc), proc };
}

/**
 * The built worker of the deployment in `cwd` (wrangler.toml beside its build/) on workerd
 * through Miniflare's API: no `wrangler dev` tooling around it (under a thousand clients
 * reaching the worker's workerd directly, wrangler's proxy workerd still opened up to 16,000
 * connections to wrangler's Node process and ran out of file descriptors: 136,103 "Too many
 * open files" in one run, 2026-12-06). The Durable Objects' storage is
 * SQLite on disk, in a fresh folder, as `wrangler dev --persist-to` has it; `vars` are added
 * to wrangler.toml's [vars]. workerd is pinned to core `cpu` when given. `{ url, proc }`,
 * `proc` for `stop` and its `log()`.
 */
export async function startMiniflare(cwd, { cpu, vars = {} } = {}) {
  const { Miniflare } = await import("miniflare");
  const persist = mkdtempSync(join(tmpdir(), "wasmio-bench-"));
  tempDirs.push(persist);
  const { keep, log } = tail();
  const options = await workerdOptions(join(cwd, "build"), {
    vars: { ...tomlVars(cwd), ...vars },
    persist,
    compatibilityDate: tomlString(cwd, "compatibility_date"),
    onOutput: keep,
  });
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  if (cpu !== undefined && HAVE_TASKSET) {
    for (const pid of workerdsUnder(process.pid)) spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  }
  return { url, proc: { miniflare: mf, log } };
}

/** wrangler.toml's top-level string `key` in `cwd`. */
function tomlString(cwd, key) {
  return new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m").exec(readFileSync(join(cwd, "wrangler.toml"), "utf8"))?.[1];
}

/** wrangler.toml's top-level `[vars]` in `cwd` (string values). */
function tomlVars(cwd) {
  const toml = readFileSync(join(cwd, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\n([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  return Object.fromEntries([...section.matchAll(/^(\w+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
}

/** The installed wrangler's version, or "?". */
export function wranglerVersion() {
  try {
    return execSync(`${join(ROOT, "node_modules/.bin/wrangler")} --version`, { encoding: "utf8" }).trim().split("\n").pop();
  } catch {
    return "?";
  }
}

/**
 * The socket of the workerd that runs the worker itself. wrangler dev's `--port` is a second
 * workerd running a proxy, which forwards every request and WebSocket message (a development
 * convenience Cloudflare's edge does not have: it costs ~2.5 ms per HTTP request here and about
 * six file descriptors per WebSocket, so 5,000 connections exceed the open-file limit). The
 * driver talks to the worker's workerd directly; undefined if it cannot be found (no `ss`).
 */
export async function workerdEntry(proc) {
  for (const pid of workerdProcesses(proc)) {
    const listening = spawnSync("ss", ["-ltnpH"], { encoding: "utf8" }).stdout ?? "";
    const ports = listening.split("\n").filter((l) => l.includes(`pid=${pid},`)).map((l) => /127\.0\.0\.1:(\d+)/.exec(l)?.[1]);
    for (const port of ports.filter(Boolean)) {
      try {
        // The worker answers its own routes; workerd's other sockets fail or answer 500.
        if ((await fetch(`http://127.0.0.1:${port}/`)).status < 500) return `http://127.0.0.1:${port}`;
      } catch {}
    }
  }
  return undefined;
}

/**
 * Leaves core `cpu` to the workerd that runs the worker: wrangler's own Node process and its
 * proxy workerd (development tooling Cloudflare's edge does not have) move to the other cores,
 * where the benchmark's clients run. Pinned beside the worker, they took as much CPU as the
 * worker itself during a storm of connections (measured 2026-12-06: 666 polling clients in
 * 1.3 s, wrangler's Node 3 s and the proxy 1 s against the worker's 3 s, the core saturated
 * for 8 s), and requests waited seconds in workerd's accept queue. Nothing moves if the
 * worker's workerd cannot be found, taskset is missing or there is no other core.
 */
export function pinWorkerOnly(proc, cpu) {
  const worker = new Set(workerdProcesses(proc));
  const others = cpus().map((_, i) => i).filter((i) => String(i) !== String(cpu));
  if (!HAVE_TASKSET || worker.size === 0 || others.length === 0) return false;
  for (const pid of descendants(proc.child.pid)) {
    if (!worker.has(pid)) spawnSync("taskset", ["-a", "-p", "-c", others.join(","), String(pid)], { stdio: "ignore" });
  }
  return true;
}

/** The processes of `wrangler dev` (started by `startWrangler`) that run the worker itself. */
export function workerdProcesses(proc) {
  return workerdsUnder(proc.child.pid, "entry=127.0.0.1:0");
}

/** The workerd processes descending from `pid` whose command line has `also` too. */
function workerdsUnder(pid, also = "") {
  return [...descendants(pid)].filter((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      return cmd.includes("workerd") && cmd.includes(also);
    } catch {
      return false;
    }
  });
}

/** CPU time (user + system) of process `pid` so far, in ms. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100); // USER_HZ ticks
}

/** `pid` and all its descendants (Linux /proc). */
export function descendants(pid) {
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
  return tree;
}
