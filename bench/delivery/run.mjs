// Delivery under drops (run by bench/delivery/run.sh): the share of chat messages that reach
// receivers whose transports are cut at random while a sender emits, and the duplicates, for
//   ours:     the edge worker's chat deployment (SHARDS=4) on workerd, started through
//             Miniflare's API with SQLite storage on disk (DELIVERY_RUNNER=wrangler: under
//             `wrangler dev`, see `startOurs`);
//   official: socket.io 4.8.4 on Node running the same chat (official.mjs), no recovery;
//   recovery: the same with `connectionStateRecovery: { maxDisconnectionDuration: 120000 }`.
// Each server is started fresh, pinned to core SERVER_CPU (default 1; run.sh pins this driver
// to DRIVER_CPU, default 0), measured, and stopped by its process group, one after the other.
// Ours runs the bundle already in deployments/chat/build/ (WASMIO_PREBUILT=1, no build here); its
// fingerprint is recorded, and since wrangler dev reloads the worker (closing every connection)
// when that bundle changes, a measurement during which it changed is taken again (twice at most).
// Under Miniflare the bundle is read once at start.
//
// Method, for each server:
//   1. DELIVERY_CLIENTS (N, default 50) official socket.io-client 4.8.4 receivers connect,
//      split evenly over the three transport paths (receiver i takes path i mod 3): default
//      options (polling, then the upgrade to WebSocket), `transports: ["websocket"]` and
//      `transports: ["polling"]`; all connected (and upgraded where they upgrade) before
//      anything is sent. The client's own reconnection, with its defaults, is left on.
//   2. One sender (`transports: ["websocket"]`, never cut) emits DELIVERY_MESSAGES (M, default
//      300) `chat message`s with distinct texts `msg-<i>` at a steady rate over
//      DELIVERY_SECONDS (default 15 s).
//   3. Meanwhile each receiver's connection is cut DELIVERY_CUTS (default 2) times, at times
//      drawn uniformly over the sending window, with `socket.io.engine.close()` (the transport
//      closes, the client reconnects by itself). A cut that falls while the receiver is still
//      disconnected from the previous one is skipped and counted. The times come from a PRNG
//      seeded with DELIVERY_SEED (default 1): every server sees the same schedule.
//   4. After the last message: wait (at most 60 s) until every receiver is connected again,
//      then a grace period of DELIVERY_GRACE_MS (default 5,000 ms) for late deliveries
//      (replays of a recovered session included).
//   5. A receiver counts the `text` of every `chat message` it receives.
//      delivered  = sum over receivers of distinct message texts received / (N * M);
//      duplicates = receptions - distinct receptions, summed over receivers.
// Also recorded: reconnects (the manager's `reconnect` events), connect errors
// (`connect_error`), cuts made and skipped, recovered connects (`socket.recovered`), receivers
// that got every message, the sender's own copy of the broadcast, the figures by path, the
// disconnect reasons and connect error messages, and how long the receivers took to connect
// at first and to be all connected again after the last message.
// Prints tables, writes bench/results/delivery.json (delivery-<N>.json for another N than 50).
//
// File descriptors: this driver takes one or two per receiver (~2,700 at N = 1,000); under
// wrangler dev its proxy workerd peaked at ~16,000 at N = 1,000 (connections to wrangler's
// Node process). The open-file limit is taken as it is (recorded in the results). A server
// whose receivers cannot all connect is reported as failed, the run goes on with the next one.
import { execSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { HAVE_TASKSET, ROOT, pinWorkerOnly, start, startMiniflare, startWrangler, stop, workerdEntry, wranglerVersion } from "../servers.mjs";

const CLIENTS = Number(process.env.DELIVERY_CLIENTS || 50);
const MESSAGES = Number(process.env.DELIVERY_MESSAGES || 300);
const SECONDS = Number(process.env.DELIVERY_SECONDS || 15);
const CUTS = Number(process.env.DELIVERY_CUTS || 2);
const GRACE_MS = Number(process.env.DELIVERY_GRACE_MS || 5000);
const SEED = Number(process.env.DELIVERY_SEED || 1);
const SERVER_CPU = process.env.SERVER_CPU ?? "1";
// The default run is the report's; a larger one is kept beside it.
const RESULT_FILE = CLIENTS === 50 ? "delivery.json" : `delivery-${CLIENTS}.json`;
// DELIVERY_SERVERS (e.g. "ours") runs a subset, for development.
const SERVERS = (process.env.DELIVERY_SERVERS || "ours,official,recovery").split(",");
/** How ours runs: "miniflare" (default) or "wrangler" (see `startOurs`). */
const RUNNER = process.env.DELIVERY_RUNNER || "miniflare";
const LABELS = {
  ours: `ours: wasmio edge worker (${RUNNER === "wrangler" ? "wrangler dev's workerd" : "workerd via Miniflare"}, chat app, 4 shards)`,
  official: "official: socket.io 4.8.4 (Node), no recovery",
  recovery: "official + connectionStateRecovery (120 s)",
};
/** Receivers are created in batches of BATCH, BATCH_PAUSE_MS apart (no connect storm). */
const BATCH = 50;
const BATCH_PAUSE_MS = 100;
/** How long the receivers may take to connect (and upgrade) before sending starts. */
const CONNECT_MS = 30_000 + 60 * CLIENTS;
/** How long after the last message the receivers may take to be connected again. */
const RECONNECT_MS = 60_000;
const INTERVAL_MS = (SECONDS * 1000) / MESSAGES;
/** How many times ours is measured again when its bundle changed during a measurement. */
const REBUILD_RETRIES = 2;
/** The three ways a client reaches the server (as in tests/lifecycle/chat.mjs). */
const PATHS = {
  "polling then upgrade": {},
  "websocket only": { transports: ["websocket"] },
  "polling only": { transports: ["polling"] },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...args) => console.error(...args);

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves true once `predicate()` holds (checked every 50 ms), false after `ms`. */
async function waitFor(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** The open-file limit of this process (the servers inherit it), or "?". */
function openFileLimit() {
  try {
    return /Max open files\s+(\S+)/.exec(readFileSync("/proc/self/limits", "utf8"))[1];
  } catch {
    return "?";
  }
}

/**
 * The worker bundle in deployments/chat/build/ (the working tree may differ from the commit): the
 * first 16 hex digits of its wasm's SHA-256 and its modification time, or null.
 */
function workerBuild() {
  try {
    const wasm = join(ROOT, "deployments/chat/build/index_bg.wasm");
    const sha256 = createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16);
    return { wasm_sha256: sha256, built: statSync(wasm).mtime.toISOString() };
  } catch {
    return null;
  }
}

/** The chat message index of `text` (`msg-<i>`), or undefined for anything else. */
function messageIndex(text) {
  const m = typeof text === "string" && /^msg-(\d+)$/.exec(text);
  const i = m ? Number(m[1]) : -1;
  return i >= 0 && i < MESSAGES ? i : undefined;
}

async function startOfficial(recovery) {
  const args = [join(ROOT, "bench/delivery/official.mjs"), ...(recovery ? ["--recovery"] : [])];
  const proc = start(process.execPath, args, ROOT, SERVER_CPU);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /PORT (\d+)/.exec(proc.log());
    if (m) return { url: `http://127.0.0.1:${m[1]}`, proc };
    if (proc.child.exitCode !== null) break;
    await sleep(50);
  }
  await stop(proc);
  throw new Error(`official server did not start:\n${proc.log()}`);
}

/**
 * Ours: the built chat deployment on workerd through Miniflare's API (bench/servers.mjs's
 * `startMiniflare`), workerd alone on the server core. DELIVERY_RUNNER=wrangler runs it under
 * `wrangler dev` instead, reached at the workerd that runs the worker, alone on its core
 * (DELIVERY_VIA_PROXY=1: through wrangler's local proxy): wrangler's tooling (its Node
 * process, its proxy workerd) then takes its share of the machine, and at a thousand receivers
 * its proxy runs out of file descriptors.
 */
async function startOurs() {
  const vars = { MAX_HANDSHAKES_PER_MINUTE: "0" }; // every receiver connects from one loopback address
  if (RUNNER !== "wrangler") {
    const { url, proc } = await startMiniflare(join(ROOT, "deployments/chat"), { cpu: SERVER_CPU, vars });
    return { url, proc, via: "workerd through Miniflare's API" };
  }
  const { url, proc } = await startWrangler(join(ROOT, "deployments/chat"), { cpu: SERVER_CPU, vars });
  const direct = process.env.DELIVERY_VIA_PROXY === "1" ? undefined : await workerdEntry(proc);
  const alone = direct !== undefined && pinWorkerOnly(proc, SERVER_CPU);
  return { url: direct ?? url, proc, via: `${direct ? "workerd directly" : "wrangler dev's proxy"}${alone ? ", alone on its core" : ""}` };
}

/** Starts one server of SERVERS: `{ url, proc }`. */
function startServer(server) {
  if (server === "ours") return startOurs();
  return startOfficial(server === "recovery");
}

/** Adds one to `counts[key]`. */
const bump = (counts, key) => (counts[key] = (counts[key] ?? 0) + 1);

/**
 * One receiver on transport path `path`, counting every `chat message` by its text; its
 * disconnect reasons and connect error messages are counted in `causes`.
 */
function receiver(url, path, causes) {
  const socket = io(url, { forceNew: true, ...PATHS[path] });
  const r = { path, socket, counts: new Uint32Array(MESSAGES), late: new Set(), other: 0, reconnects: 0, connectErrors: 0, recovered: 0, cuts: 0, skipped: 0, timeline: [], offsets: {}, firstOffsets: [] };
  const at = () => Math.round(performance.now());
  socket.on("chat message", (message, offset) => {
    const i = messageIndex(message?.text);
    if (i === undefined) return r.other++;
    r.counts[i]++;
    // The recovery offsets of a message received more than once, for the diagnostics.
    if (r.counts[i] > 1) (r.offsets[i] ??= []).push(offset);
    else r.firstOffsets[i] = offset;
    // Runs of consecutive messages received, for the diagnostics.
    const last = r.timeline.at(-1);
    const engine = socket.io.engine;
    const via = `${engine?.id?.split("-")[0]}/${engine?.id?.slice(-4)}/${engine?.transport?.name}`;
    if (last?.[1] === "got" && last[3] === i - 1 && last[4] === via) last[3] = i;
    else r.timeline.push([at(), "got", i, i, via]);
  });
  socket.io.on("open", () => r.timeline.push([at(), "engine open", socket.io.engine?.id?.slice(-4)]));
  // socket.io-client hands the socket a payload's packets one tick after decoding them: those
  // of an engine that closed meanwhile (a cut during an upgrade closes right after the last
  // poll) reach a disconnected socket, which buffers them and replays them at its next
  // connection without moving its recovery offset, so the recovered copies come too. Such
  // duplicates are the client library's, whatever the server: they are counted apart.
  socket.io.on("packet", (packet) => {
    if (socket.connected || socket.io.engine?.readyState === "open") return;
    const i = packet.type === 2 ? messageIndex(packet.data?.[1]?.text) : undefined;
    if (i !== undefined) r.late.add(i);
  });
  socket.io.on("close", (reason) => r.timeline.push([at(), "engine close", reason]));
  socket.on("connect", () => {
    if (socket.recovered) r.recovered++;
    r.timeline.push([at(), socket.recovered ? "recovered" : "connect", socket.io.engine?.id?.split("-")[0]]);
  });
  socket.on("connect_error", (error) => {
    r.connectErrors++;
    bump(causes.connectErrors, error?.message ?? String(error));
  });
  socket.on("disconnect", (reason) => {
    bump(causes.disconnects, reason);
    r.timeline.push([at(), reason]);
  });
  socket.io.on("reconnect", () => r.reconnects++);
  return r;
}

const ready = (r) => r.socket.connected && (r.path !== "polling then upgrade" || r.socket.io.engine?.transport?.name === "websocket");

/** Cuts `r`'s transport if it is connected; counts the cut or the skip. */
function cut(r) {
  if (!r.socket.connected) return r.skipped++;
  r.cuts++;
  r.socket.io.engine.close();
}

/** Delivery figures of `receivers`: counts, and the shares of the N * M possible deliveries. */
function tally(receivers) {
  let distinct = 0;
  let receptions = 0;
  let complete = 0;
  let worst = MESSAGES;
  let replays = 0;
  for (const r of receivers) {
    let got = 0;
    for (const n of r.counts) {
      if (n) got++;
      receptions += n;
    }
    for (const i of r.late) if (r.counts[i] > 1) replays++;
    distinct += got;
    if (got === MESSAGES) complete++;
    worst = Math.min(worst, got);
  }
  const possible = receivers.length * MESSAGES;
  return {
    receivers: receivers.length,
    delivered: possible ? distinct / possible : null,
    delivered_messages: distinct,
    possible,
    duplicates: receptions - distinct,
    // Of the duplicates, socket.io-client's replays of a closed engine's last packets (see
    // `receiver`).
    client_replays: replays,
    complete_receivers: complete,
    worst_receiver: receivers.length ? worst / MESSAGES : null,
  };
}

const sum = (receivers, key) => receivers.reduce((s, r) => s + r[key], 0);

/** The receivers that got the most duplicates (at most `n`): which, and what happened to them. */
function duplicated(receivers, t0, n = 5) {
  return receivers
    .map((r) => ({ r, dups: r.counts.reduce((s, c) => s + Math.max(0, c - 1), 0) }))
    .filter(({ dups }) => dups > 0)
    .sort((a, b) => b.dups - a.dups)
    .slice(0, n)
    .map(({ r, dups }) => ({
      path: r.path,
      duplicates: dups,
      twice: [...r.counts.keys()].filter((i) => r.counts[i] > 1).join(","),
      offsets: Object.entries(r.offsets).slice(0, 3).map(([i, later]) => [Number(i), r.firstOffsets[i], ...later]),
      timeline: r.timeline.map(([t, ...what]) => [t - t0, ...what]),
    }));
}

/** The receivers that missed the most (at most `n`): what happened to them, times in ms from `t0`. */
function incomplete(receivers, t0, n = 5) {
  const missing = (r) => {
    const ranges = [];
    r.counts.forEach((count, i) => {
      if (count) return;
      const last = ranges.at(-1);
      if (last && last[1] === i - 1) last[1] = i;
      else ranges.push([i, i]);
    });
    return ranges;
  };
  return receivers
    .map((r) => ({ r, got: r.counts.filter((c) => c).length }))
    .filter(({ got }) => got < MESSAGES)
    .sort((a, b) => a.got - b.got)
    .slice(0, n)
    .map(({ r, got }) => ({
      path: r.path,
      got,
      cuts: r.cuts,
      reconnects: r.reconnects,
      missing: missing(r).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(","),
      timeline: r.timeline.map(([t, ...what]) => [t - t0, ...what]),
    }));
}

/** Starts `server`, measures it, stops it: its results, or `{ error }`. */
async function measureServer(server, schedule, elapsed) {
  log(`[${elapsed()}] ${server}: starting`);
  let proc;
  try {
    const started = await startServer(server);
    proc = started.proc;
    const r = await measure(started.url, schedule);
    if (started.via) r.reached = started.via;
    log(`[${elapsed()}] ${server}: delivered ${pct(r.delivered)}, ${r.duplicates} duplicates (${r.client_replays} replayed by the client), ${r.reconnects} reconnects, ${r.connect_errors} connect errors`);
    if (r.sender_disconnects.length) log(`  the sender disconnected: ${r.sender_disconnects.map(([at, reason]) => `${reason} at ${at} ms`).join(", ")}`);
    return r;
  } catch (e) {
    log(`[${elapsed()}] ${server} failed: ${e.message}`);
    if (proc) {
      const logFile = join(tmpdir(), `wasmio-bench-delivery-${server}.log`);
      writeFileSync(logFile, proc.log());
      log(`  its log: ${logFile}`);
    }
    return { error: e.message };
  } finally {
    if (proc) await stop(proc);
  }
}

/** One measurement (steps 1 to 5 of the method) against the server at `url`. */
async function measure(url, schedule) {
  const receivers = [];
  const sender = io(url, { forceNew: true, transports: ["websocket"] });
  const senderCounts = new Uint32Array(MESSAGES);
  sender.on("chat message", (message) => {
    const i = messageIndex(message?.text);
    if (i !== undefined) senderCounts[i]++;
  });
  // The sender is never cut: a disconnection of its own (the server overloaded, say) loses
  // what it emitted into the dead connection, as socket.io-client does; it is reported.
  const senderDisconnects = [];
  let t0;
  sender.on("disconnect", (reason) => senderDisconnects.push([Math.round(performance.now() - (t0 ?? performance.now())), reason]));
  const timers = [];
  const causes = { disconnects: {}, connectErrors: {} };
  const started = performance.now();
  try {
    const paths = Object.keys(PATHS);
    for (let i = 0; i < CLIENTS; i++) {
      receivers.push(receiver(url, paths[i % paths.length], causes));
      if ((i + 1) % BATCH === 0) await sleep(BATCH_PAUSE_MS);
    }
    if (!(await waitFor(() => sender.connected && receivers.every(ready), CONNECT_MS))) {
      const byPath = paths.map((p) => {
        const of = receivers.filter((r) => r.path === p);
        return `${p}: ${of.filter(ready).length}/${of.length} (${sum(of, "connectErrors")} connect errors)`;
      });
      throw new Error(`receivers not all connected after ${CONNECT_MS} ms: ${byPath.join("; ")}; sender ${sender.connected ? "" : "not "}connected`);
    }
    const connectSeconds = (performance.now() - started) / 1000;
    log(`  ${CLIENTS} receivers connected in ${connectSeconds.toFixed(1)} s; sending ${MESSAGES} messages over ${SECONDS} s`);
    await sleep(1000); // the last upgrades' probes and noops settle

    t0 = performance.now();
    schedule.forEach((times, i) => times.forEach((t) => timers.push(setTimeout(() => cut(receivers[i]), t))));
    for (let i = 0; i < MESSAGES; i++) {
      const wait = t0 + i * INTERVAL_MS - performance.now();
      if (wait > 0) await sleep(wait);
      sender.emit("chat message", `msg-${i}`);
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    const sent = performance.now();
    const back = await waitFor(() => receivers.every((r) => r.socket.connected), RECONNECT_MS);
    const reconnectSeconds = (performance.now() - sent) / 1000;
    const notConnected = receivers.filter((r) => !r.socket.connected).length;
    if (!back) log(`  ${notConnected} receivers still disconnected ${RECONNECT_MS} ms after the last message`);
    await sleep(GRACE_MS);

    const byPath = Object.fromEntries(paths.map((p) => [p, tally(receivers.filter((r) => r.path === p))]));
    return {
      ...tally(receivers),
      reconnects: sum(receivers, "reconnects"),
      connect_errors: sum(receivers, "connectErrors"),
      recovered: sum(receivers, "recovered"),
      cuts: sum(receivers, "cuts"),
      cuts_skipped: sum(receivers, "skipped"),
      not_connected_at_end: notConnected,
      unexpected_messages: sum(receivers, "other"),
      sender_received: senderCounts.filter((n) => n).length,
      // [ms from the first message, reason] of each disconnection of the sender.
      sender_disconnects: senderDisconnects,
      connect_seconds: connectSeconds,
      send_seconds: sendSeconds,
      // From the last message until every receiver was connected again.
      reconnect_seconds: reconnectSeconds,
      disconnect_reasons: causes.disconnects,
      connect_error_messages: causes.connectErrors,
      by_path: byPath,
      // The receivers that missed the most: times in ms from the first message (every
      // INTERVAL_MS ms one), connects with their object, disconnects with their reason.
      most_missed: incomplete(receivers, t0),
      most_duplicated: duplicated(receivers, t0),
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const r of receivers) r.socket.close();
    sender.close();
  }
}

const pct = (x) => (x === null || x === undefined ? "n/a" : `${(100 * x).toFixed(2)}%`);

/** The results as markdown: one table of the figures, one of the delivery by transport path. */
function tables(results) {
  const lines = [
    "",
    `delivery under drops: ${CLIENTS} receivers, ${MESSAGES} messages over ${SECONDS} s, ${CUTS} cuts per receiver, grace ${GRACE_MS} ms`,
    "",
    "| server | delivered | duplicates (replayed by the client) | reconnects | connect errors | cuts (skipped) | recovered | complete receivers | worst receiver | sender got |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [server, r] of Object.entries(results)) {
    if (r.error) {
      lines.push(`| ${LABELS[server]} | failed: ${r.error.split("\n")[0]} | | | | | | | | |`);
      continue;
    }
    const label = `${LABELS[server]}${r.worker_rebuilt_during_measurement ? " (worker rebuilt meanwhile!)" : ""}`;
    lines.push(
      `| ${label} | ${pct(r.delivered)} | ${r.duplicates} (${r.client_replays}) | ${r.reconnects} | ${r.connect_errors} | ` +
        `${r.cuts} (${r.cuts_skipped}) | ${r.recovered} | ${r.complete_receivers}/${r.receivers} | ${pct(r.worst_receiver)} | ${r.sender_received}/${MESSAGES} |`,
    );
  }
  const paths = Object.keys(PATHS);
  lines.push("", `delivered (duplicates) by transport path:`, "", `| server | ${paths.join(" | ")} |`, `|---|${paths.map(() => "---:").join("|")}|`);
  for (const [server, r] of Object.entries(results)) {
    if (r.error) continue;
    lines.push(`| ${server} | ${paths.map((p) => `${pct(r.by_path[p].delivered)} (${r.by_path[p].duplicates})`).join(" | ")} |`);
  }
  return lines.join("\n");
}

async function main() {
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  // Every wait above is bounded; this bounds the whole run as well (a server start may take
  // 4 minutes when wrangler is slow).
  const budgetMs = (SERVERS.length + REBUILD_RETRIES) * (240_000 + CONNECT_MS + SECONDS * 1000 + RECONNECT_MS + GRACE_MS + 60_000);
  setTimeout(() => {
    log(`bench/delivery: no result after ${budgetMs / 1000} s, giving up`);
    process.exit(2);
  }, budgetMs).unref();

  const rand = prng(SEED);
  const schedule = Array.from({ length: CLIENTS }, () => Array.from({ length: CUTS }, () => rand() * SECONDS * 1000).sort((a, b) => a - b));
  const fdLimit = openFileLimit();
  // The load average, at the start and at the end, tells whether something else ran alongside.
  const loadStart = loadavg()[0];
  log(
    `taskset: ${HAVE_TASKSET ? `servers on CPU ${SERVER_CPU}` : "missing"}; open-file limit ${fdLimit}; ` +
      `${CLIENTS} receivers, ${MESSAGES} messages over ${SECONDS} s, ${CUTS} cuts each; servers ${SERVERS.join(", ")}`,
  );
  const results = {};
  for (const server of SERVERS) {
    if (!LABELS[server]) throw new Error(`unknown server '${server}' (ours, official, recovery)`);
    // wrangler dev reloads the worker when deployments/chat/build/ changes, closing every
    // connection: a measurement of ours during which the bundle changed is taken again, on the
    // new bundle, up to REBUILD_RETRIES times.
    for (let attempt = 0; ; attempt++) {
      const before = workerBuild();
      results[server] = await measureServer(server, schedule, elapsed);
      if (server !== "ours") break;
      const after = workerBuild();
      results[server].worker_build = before;
      if (JSON.stringify(after) === JSON.stringify(before)) break;
      results[server].worker_rebuilt_during_measurement = true;
      log(`[${elapsed()}] ${server}: the worker was rebuilt meanwhile (${before?.wasm_sha256} -> ${after?.wasm_sha256})`);
      if (attempt === REBUILD_RETRIES) break;
      log(`  measuring ${server} again`);
    }
    await sleep(1000); // the closed clients' sockets are released before the next server
  }

  console.log(tables(results));
  let commit = "?";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {}
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(
    join(ROOT, "bench/results", RESULT_FILE),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        commit,
        command: [
          ...Object.entries(process.env).filter(([k]) => k.startsWith("DELIVERY_")).map(([k, v]) => `${k}=${v}`).sort(),
          "bash bench/delivery/run.sh",
        ].join(" "),
        machine: {
          cpu: cpus()[0]?.model ?? "?",
          cores: cpus().length,
          node: process.version,
          wrangler: wranglerVersion(),
          taskset: HAVE_TASKSET,
          server_cpu: SERVER_CPU,
          open_file_limit: fdLimit,
          loadavg_1min: { start: loadStart, end: loadavg()[0] },
        },
        parameters: {
          clients: CLIENTS,
          messages: MESSAGES,
          seconds: SECONDS,
          cuts_per_receiver: CUTS,
          grace_ms: GRACE_MS,
          seed: SEED,
          paths: PATHS,
          cut: "socket.io.engine.close() at times uniform over the sending window, skipped while disconnected",
          reconnection: "socket.io-client defaults",
          delivered: "sum over receivers of distinct message texts received / (clients * messages)",
          duplicates: "receptions - distinct receptions, summed over receivers",
          client_replays: "duplicates whose extra copy socket.io-client replayed from a closed engine's last packets, buffered while disconnected",
        },
        servers: LABELS,
        results,
        seconds: (Date.now() - t0) / 1000,
      },
      null,
      2,
    ) + "\n",
  );
  log(`wrote bench/results/${RESULT_FILE} in ${elapsed()}`);
  if (Object.values(results).some((r) => r.error)) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
