// Edge cost benchmark (issue 5, part 4), run by bench/edge-cost/run.sh: Durable Object
// wake-ups caused by idle Socket.IO connections.
//
// Two servers under `wrangler dev` (local workerd), each in its own process group:
//   ours:  the edge worker, `--env edgecost` (the chat app, SHARDS=4, pingInterval 25 s,
//          TEST_HOOKS so that `/socket.io/__stats?object=<n>` reads object <n>'s counts);
//   floor: a JS hibernatable Durable Object with a naive heartbeat (floor/): an alarm per
//          ping interval pings every socket and every pong wakes the object.
// EDGE_CONNECTIONS (default 1000) raw Engine.IO v4 / Socket.IO v5 WebSocket clients connect to
// each server (batches of 50, both servers at once), CONNECT to `/`, answer every ping `2`
// with a pong `3`, and otherwise stay idle for EDGE_MINUTES (default 10).
//
// Wake-ups are the events workerd delivers to an object: fetches, WebSocket messages, alarms.
// Both objects count them in their storage, during the event counted (workerd evicts an idle
// object 10 s after its last event, and in-memory counts would restart); the stats reads are
// not counted. The window's figures are end minus start, so the setup's fetches and messages
// are left out. Cross-check from the outside: the pings `2` each client received, and for ours
// the noops `6` workerd's auto-response sent back for the pongs.
// Prints a markdown table, writes bench/results/edge-cost.json.
import { execSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { ROOT, startWrangler, wranglerVersion } from "../servers.mjs";

const MINUTES = Number(process.env.EDGE_MINUTES || 10);
const CONNECTIONS = Number(process.env.EDGE_CONNECTIONS || 1000);
const BATCH = 50;
const PROGRESS_MS = 30_000;
const SERVERS = {
  ours: { label: "ours (edge worker, wrangler --env edgecost)", cwd: join(ROOT, "deployments/chat"), env: "edgecost", sio: "/socket.io/" },
  floor: { label: "JS floor (naive heartbeat DO)", cwd: join(ROOT, "bench/edge-cost/floor"), env: null, sio: "/" },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...args) => console.error(...args);

/** One raw Socket.IO client on `/`: resolves once CONNECTed, then answers pings forever. */
function connect(base) {
  const url = `${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = { ws, sid: null, pingInterval: null, pings: 0, noops: 0, other: [], open: true, closed: null, connected: false };
    const timer = setTimeout(() => reject(new Error(`connect timeout ${url}`)), 60_000);
    ws.on("error", (e) => {
      clearTimeout(timer);
      if (!client.connected) reject(e);
    });
    ws.on("close", (code, reason) => {
      client.open = false;
      client.closed = { at: Date.now(), code, reason: reason.toString() };
      clearTimeout(timer);
      if (!client.connected) reject(new Error(`closed before CONNECT (${code})`));
    });
    ws.on("message", (data) => {
      const s = data.toString();
      if (s === "2") {
        client.pings++;
        ws.send("3");
      } else if (s === "6") client.noops++;
      else if (s.startsWith("0{")) {
        const open = JSON.parse(s.slice(1));
        client.sid = open.sid;
        client.pingInterval = open.pingInterval;
        ws.send("40");
      } else if (s.startsWith("40")) {
        client.connected = true;
        clearTimeout(timer);
        resolve(client);
      } else if (s.startsWith("44")) {
        clearTimeout(timer);
        reject(new Error(`connect_error ${s}`));
      } else client.other.push(s.slice(0, 80));
    });
  });
}

async function connectAll(base, n) {
  const clients = [];
  for (let i = 0; i < n; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) batch.push(connect(base));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/** The wake-up counts of every object of a server: { name: {fetches, websocketMessages, alarms, instances} }. */
async function readCounts(name, server, objects) {
  const out = {};
  for (const object of objects) {
    const url = name === "ours" ? `${server.url}/socket.io/__stats?object=${encodeURIComponent(object)}` : `${server.url}/__stats`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    out[object] = await res.json();
  }
  return out;
}

/** `wrangler dev` of server `name` (its process group id is its pid). */
async function startServer(name) {
  const { url, proc } = await startWrangler(SERVERS[name].cwd, { env: SERVERS[name].env ?? undefined });
  return { ...SERVERS[name], url, pid: proc.child.pid, log: proc.log };
}

const KINDS = ["alarms", "websocketMessages", "fetches", "instances"];
const diff = (a, b) => Object.fromEntries(KINDS.map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));
const sum = (counts) => Object.fromEntries(KINDS.map((k) => [k, Object.values(counts).reduce((s, c) => s + c[k], 0)]));

async function main() {
  const t0 = Date.now();
  log(`edge cost: ${CONNECTIONS} idle connections per server for ${MINUTES} min; starting wrangler dev x2`);
  const names = Object.keys(SERVERS);
  const servers = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await startServer(name)])),
  );
  log(`servers up (${names.map((n) => `${n} ${servers[n].url}, wrangler pgid ${servers[n].pid}`).join("; ")}); connecting`);

  const clients = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await connectAll(servers[n].url, CONNECTIONS)])));
  const pingInterval = {};
  const objects = {};
  for (const n of names) {
    const intervals = new Set(clients[n].map((c) => c.pingInterval));
    if (intervals.size !== 1) throw new Error(`${n}: several ping intervals ${[...intervals]}`);
    pingInterval[n] = [...intervals][0];
    // Our sids are `<object name>-<random>`: the object each connection landed on.
    objects[n] = n === "ours" ? [...new Set(clients[n].map((c) => c.sid.split("-")[0]))].sort() : ["floor"];
  }
  if (pingInterval.ours !== pingInterval.floor) throw new Error(`ping intervals differ: ${JSON.stringify(pingInterval)}`);
  const PING = pingInterval.ours;
  const perObject = Object.fromEntries(objects.ours.map((o) => [o, clients.ours.filter((c) => c.sid.startsWith(`${o}-`)).length]));
  log(`connected ${names.map((n) => `${n}: ${clients[n].length} on ${objects[n].length} object(s)`).join(", ")} ` +
    `(ours per object: ${JSON.stringify(perObject)}) in ${((Date.now() - t0) / 1000).toFixed(0)} s; pingInterval ${PING} ms`);

  // The window: from the end of the start reads to the start of the end reads.
  const startCounts = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readCounts(n, servers[n], objects[n])])));
  const startPings = Object.fromEntries(names.map((n) => [n, clients[n].map((c) => [c.pings, c.noops])]));
  const windowStart = Date.now();
  const windowMs = MINUTES * 60_000;
  const openCount = (n) => clients[n].filter((c) => c.open).length;
  const pingsSince = (n) => clients[n].reduce((s, c, i) => s + c.pings - startPings[n][i][0], 0);
  while (Date.now() - windowStart < windowMs) {
    await sleep(Math.min(PROGRESS_MS, windowMs - (Date.now() - windowStart)));
    const elapsed = ((Date.now() - windowStart) / 1000).toFixed(0);
    log(`${elapsed} s: ${names.map((n) => `${n} pings ${pingsSince(n)}, open ${openCount(n)}/${CONNECTIONS}`).join("; ")}`);
  }
  const windowEnd = Date.now();
  const endCounts = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readCounts(n, servers[n], objects[n])])));
  const seconds = (windowEnd - windowStart) / 1000;
  const intervals = (windowEnd - windowStart) / PING;
  // An object woken once per interval at a fixed phase is woken floor(window / interval) or
  // that + 1 times in the window, depending on where the window cuts its schedule.
  const allowed = Math.floor(intervals) + 1;

  const results = {};
  for (const n of names) {
    const perObj = Object.fromEntries(objects[n].map((o) => [o, diff(startCounts[n][o], endCounts[n][o])]));
    const total = sum(perObj);
    const wakeups = total.alarms + total.websocketMessages + total.fetches;
    // Connection time inside the window (a dropped connection counts until it closed).
    const connectionHours = clients[n].reduce((s, c) => s + (Math.min(c.closed?.at ?? windowEnd, windowEnd) - windowStart), 0) / 3_600_000;
    const dropped = clients[n].filter((c) => c.closed && c.closed.at <= windowEnd);
    const pings = clients[n].map((c, i) => c.pings - startPings[n][i][0]);
    const noops = clients[n].reduce((s, c, i) => s + c.noops - startPings[n][i][1], 0);
    results[n] = {
      label: servers[n].label,
      objects: objects[n].length,
      connections_per_object: n === "ours" ? perObject : { floor: clients[n].length },
      alarms: total.alarms,
      websocket_messages: total.websocketMessages,
      fetches: total.fetches,
      wakeups,
      wakeups_per_connection_hour: wakeups / connectionHours,
      wakeups_per_object_per_ping_interval: wakeups / objects[n].length / intervals,
      max_object_wakeups: Math.max(...Object.values(perObj).map((c) => c.alarms + c.websocketMessages + c.fetches)),
      object_instances: total.instances,
      pings_received: pings.reduce((a, b) => a + b, 0),
      pings_per_connection: { min: Math.min(...pings), max: Math.max(...pings) },
      noops_received: noops,
      unexpected_frames: clients[n].reduce((s, c) => s + c.other.length, 0),
      dropped: dropped.length,
      dropped_detail: dropped.slice(0, 10).map((c) => ({ sid: c.sid, after_s: (c.closed.at - windowStart) / 1000, code: c.closed.code, reason: c.closed.reason })),
      connection_hours: connectionHours,
      per_object: perObj,
    };
    if (dropped.length) log(`WARNING ${n}: ${dropped.length} connection(s) dropped during the window: ${JSON.stringify(results[n].dropped_detail)}`);
  }

  const ours = results.ours;
  const goalMet = ours.max_object_wakeups <= allowed && ours.dropped === 0;
  const goal = {
    text:
      "Idle connections wake the object at most once per ping interval per object, not per socket. " +
      `Met when no object of ours was woken more than floor(window / pingInterval) + 1 = ${allowed} times in the ` +
      `${seconds.toFixed(0)} s window (${intervals.toFixed(2)} intervals; the + 1 is the interval boundary: a window ` +
      "cuts a fixed-phase schedule so that it holds one alarm more or less) and no connection dropped.",
    allowed_wakeups_per_object: allowed,
    met: goalMet,
  };

  const fmt = (v, d = 2) => (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(d));
  const rows = [
    ["Durable Objects the connections landed on", "objects"],
    ["alarms", "alarms"],
    ["WebSocket messages delivered to the object", "websocket_messages"],
    ["fetches", "fetches"],
    ["wake-ups (alarms + messages + fetches)", "wakeups"],
    ["wake-ups per connection-hour", "wakeups_per_connection_hour", 4],
    ["wake-ups per object per ping interval", "wakeups_per_object_per_ping_interval", 3],
    ["most wake-ups of one object", "max_object_wakeups"],
    ["object instances (1 + evictions)", "object_instances"],
    ["pings received by the clients", "pings_received"],
    ["noops `6` received (auto-response to pongs)", "noops_received"],
    ["connections dropped", "dropped"],
  ];
  const lines = [
    `Edge cost: ${CONNECTIONS} idle connections per server, ${seconds.toFixed(0)} s window, pingInterval ${PING} ms (${intervals.toFixed(2)} intervals)`,
    "",
    `| metric | ${ours.label} | ${results.floor.label} | floor/ours |`,
    "|---|---:|---:|---:|",
    ...rows.map(([label, key, d]) => {
      const [o, f] = [ours[key], results.floor[key]];
      return `| ${label} | ${fmt(o, d)} | ${fmt(f, d)} | ${o ? (f / o).toFixed(1) : "-"} |`;
    }),
    "",
    `Goal (${goal.met ? "met" : "NOT met"}): at most ${allowed} wake-ups per object of ours in the window; most of one object: ${ours.max_object_wakeups}; dropped: ${ours.dropped}.`,
  ];
  console.log(lines.join("\n"));

  for (const n of names) for (const c of clients[n]) c.ws.terminate();
  let commit = "?";
  let dirty = null;
  try {
    commit = execSync("git rev-parse HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
    dirty = execSync("git status --porcelain -- deployments/chat edge bench/edge-cost", { cwd: ROOT, encoding: "utf8" }).trim() !== "";
  } catch {}
  const wrangler = wranglerVersion();
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(
    join(ROOT, "bench/results/edge-cost.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        commit,
        uncommitted_changes_in_benchmarked_paths: dirty,
        command: "bash bench/edge-cost/run.sh",
        minutes: MINUTES,
        connections: CONNECTIONS,
        ping_interval_ms: PING,
        window_s: seconds,
        machine: { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, node: process.version, wrangler },
        counting:
          "Wake-ups are the events workerd delivered to the object (fetches, WebSocket messages, alarms), counted by the " +
          "object in its own storage during the event (counts survive evictions); end of window minus start. " +
          "object_instances counts object instances that handled an event: more than the number of objects means workerd evicted them.",
        servers: results,
        eviction: names
          .map((n) => `${n}: ${results[n].object_instances} object instances handled the ${results[n].wakeups} wake-ups of ${results[n].objects} object(s) in the window`)
          .join("; "),
        goal,
        table: lines.join("\n"),
        seconds: (Date.now() - t0) / 1000,
      },
      null,
      2,
    ) + "\n",
  );
  log(`wrote bench/results/edge-cost.json in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
