// Chat clients for the lifecycle tests: the official socket.io-client 4.8.4 on each transport
// path, a count of every `chat message` each one receives, and the exactly-once check.
import assert from "node:assert/strict";
import { after } from "node:test";
import { io } from "socket.io-client";
import { startWorker } from "../edge/harness.mjs";

/**
 * A `start(options)` for one test file: starts `deployment` under wrangler dev with `vars`
 * (`options` may override them, `vars` included), and stops every worker it started once the
 * file's tests are done.
 */
export function workerStarter(deployment, vars) {
  const workers = [];
  after(() => Promise.all(workers.map((w) => w.stop())));
  return async (options) => {
    const worker = await startWorker(deployment, { vars, ...options });
    workers.push(worker);
    return worker;
  };
}

/** The three ways a client reaches the server. */
export const PATHS = {
  "polling then upgrade": {},
  "websocket only": { transports: ["websocket"] },
  "polling only": { transports: ["polling"] },
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `predicate()` holds, polling every 50 ms; rejects after `ms` with `what`. */
export async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A `partition` query value that places new sessions on numbered object `object` of `shards`
 * (the fetch entry hashes it with 32-bit FNV-1a, see edge/src/routing.rs).
 */
export function partitionFor(object, shards) {
  for (let i = 0; ; i++) if (fnv1a(`p${i}`) % shards === object) return `p${i}`;
}

/** A room of the chat app (`/chat`, `/board`) that lives on numbered object `object` of `shards`. */
export function roomFor(object, shards) {
  for (let i = 0; ; i++) if (fnv1a(`room:r${i}`) % shards === object) return `r${i}`;
}

/** 32-bit FNV-1a, as the fetch entry hashes a `partition`. */
const fnv1a = (key) => [...Buffer.from(key)].reduce((h, b) => Math.imul(h ^ b, 0x01000193) >>> 0, 0x811c9dc5);

/**
 * `perPath` clients on each transport path, connected (and upgraded where they upgrade).
 * Each records what it receives, its disconnects and its connect errors, and its `timeline`
 * of connections and disconnections (`{ at, what }`, `at` from `Date.now()`). `placement`, if
 * given, maps a path to the `partition` its clients use.
 */
export async function connectClients(url, perPath, options = {}, placement = {}) {
  const clients = [];
  for (const [path, transportOptions] of Object.entries(PATHS)) {
    for (let i = 0; i < perPath; i++) {
      const query = placement[path] ? { query: { partition: placement[path] } } : {};
      const socket = io(url, { forceNew: true, ...transportOptions, ...options, ...query });
      const client = { path, socket, received: [], disconnects: [], connectErrors: [], timeline: [] };
      socket.on("chat message", (message) => client.received.push(message.text));
      socket.on("connect", () => client.timeline.push({ at: Date.now(), what: socket.recovered ? "connect, recovered" : "connect" }));
      socket.on("disconnect", (reason, details) => {
        client.disconnects.push(disconnectReason(reason, details));
        client.timeline.push({ at: Date.now(), what: `disconnect: ${client.disconnects.at(-1)}` });
      });
      socket.on("connect_error", (error) => {
        const cause = error.description?.message ?? error.description; // a transport's: its HTTP status
        client.connectErrors.push(cause == null ? error.message : `${error.message} (${cause})`);
      });
      clients.push(client);
    }
  }
  try {
    await until(() => clients.every((c) => c.socket.connected), 20_000, "every client to connect");
    await until(
      () => clients.every((c) => c.path !== "polling then upgrade" || c.socket.io.engine.transport.name === "websocket"),
      20_000,
      "the upgrades",
    );
  } catch (error) {
    // Each client's state in the report, and none left reconnecting (which would keep the
    // test file's process alive until its timeout).
    const states = clients.map(
      (c) =>
        `${c.path}: ${c.socket.connected ? `connected (${c.socket.io.engine?.transport?.name})` : "not connected"}, ` +
        `connect errors: ${c.connectErrors.join(", ") || "none"}, disconnects: ${c.disconnects.join(", ") || "none"}`,
    );
    closeAll(clients);
    throw new Error(`${error.message}\n${states.join("\n")}`);
  }
  return clients;
}

/**
 * A disconnection's reason, with what failed for a transport error ("transport error (xhr post
 * error 400)"): the `details` socket.io-client 4.8 gives its `disconnect` listeners.
 */
export function disconnectReason(reason, details) {
  if (!details?.message) return reason;
  const cause = details.description?.message ?? details.description;
  return `${reason} (${details.message}${cause == null ? "" : ` ${cause}`})`;
}

/**
 * Every client emits one `chat message` tagged `<round>:<index>`; resolves once every client
 * received every message of the round, and checks each arrived exactly once.
 */
export async function chatRound(clients, round, waitMs = 20_000) {
  const expected = clients.map((_, i) => `${round}:${i}`);
  clients.forEach((c, i) => c.socket.emit("chat message", `${round}:${i}`));
  const ofRound = (c) => c.received.filter((t) => typeof t === "string" && t.startsWith(`${round}:`));
  try {
    await until(() => clients.every((c) => ofRound(c).length >= expected.length), waitMs, `round ${round}`);
  } catch (error) {
    const report = clients.map((c) => `${c.path}: ${ofRound(c).length}/${expected.length} ${c.disconnects.join(",")}`);
    throw new Error(`${error.message}\n${report.join("\n")}`);
  }
  await sleep(500); // a duplicate would arrive about as late as the slowest delivery
  for (const c of clients) {
    assert.deepEqual([...ofRound(c)].sort(), [...expected].sort(), `${c.path}: every message of round ${round} exactly once`);
  }
}

/** What the worker logged besides requests (errors from the objects). */
export const serverErrors = (worker) =>
  worker
    .log()
    .split("\n")
    .filter((line) => /error|could not|unreadable/i.test(line))
    .join("\n");

/** Closes every client. */
export function closeAll(clients) {
  for (const c of clients) c.socket.close();
}

/** How many instances each of the `shards` numbered objects has had (one more after each eviction). */
export async function instances(url, shards) {
  const counts = [];
  for (let n = 0; n < shards; n++) {
    const stats = await (await fetch(`${url}/socket.io/__stats?object=${n}`)).json();
    console.log(`object ${n}: ${JSON.stringify(stats)}`);
    counts.push(stats.instances);
  }
  return counts;
}

/**
 * Stays silent `idleMs` (twice at most) until workerd has evicted each of the numbered objects
 * `evicted` (their instance counts grew); fails if it did not. Reading the counts is an event
 * too (it keeps an object 10 s longer), so they are read only after each wait; the second wait
 * covers a loaded machine's slower eviction.
 */
export async function awaitEviction(url, shards, evicted, idleMs) {
  const before = await instances(url, shards);
  const done = (after) => evicted.every((n) => after[n] > before[n]);
  let after;
  for (let wait = 1; wait <= 2; wait++) {
    await sleep(idleMs);
    after = await instances(url, shards);
    console.log(`instances per object before the idle wait ${before}, after ${wait * idleMs} ms ${after}`);
    if (done(after)) break;
  }
  assert.ok(done(after), `objects ${evicted} were evicted: instances ${before} before, ${after} after`);
}
