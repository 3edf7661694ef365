// A handler's panic under real workerd (conformance deployment, `/rooms`, whose `divide` handler
// panics on a divisor of 0): the panic ends the wasm instance and the deployment's glue starts a
// new one, every object starting again from its storage. Official clients on every transport
// path share the panicking client's object; the others must not be left behind:
// - with hibernatable WebSockets (the default), WebSocket sessions go on, their rooms kept;
// - with strict heartbeats (standard WebSockets), every WebSocket is closed at once and its
//   client reconnects, instead of staying open while its messages go nowhere until its
//   heartbeat times out (45 s here);
// - a long-polling session ends, and its client reconnects by itself.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const PATHS = { "websocket only": ["websocket"], "polling then upgrade": ["polling", "websocket"], "polling only": ["polling"] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

/** Resolves when `predicate()` holds (polled every 50 ms); rejects after `ms` naming `what`. */
async function until(predicate, ms, what) {
  for (const deadline = Date.now() + ms; !predicate(); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }
}

/** A client of `/rooms` on the object of partition `p1`, in room `r`, recording what it hears. */
async function member(url, path) {
  const socket = io(`${url}/rooms`, { forceNew: true, transports: PATHS[path], query: { partition: "p1" } });
  const client = { path, socket, heard: [], disconnects: [] };
  socket.on("room-message", (text) => client.heard.push(text));
  socket.on("disconnect", (reason) => client.disconnects.push(reason));
  await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
  if (path === "polling then upgrade") await until(() => socket.io.engine.transport.name === "websocket", 10_000, "the upgrade");
  assert.equal(await socket.timeout(5_000).emitWithAck("join", "r"), "r");
  return client;
}

/** The worker in heartbeat mode `heartbeat`, the panicking client, and one client per path. */
async function setUp(heartbeat) {
  // socket.io's default heartbeat: a client learns of a dead connection 45 s after at worst.
  const vars = { HEARTBEAT: heartbeat, PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
  const worker = await startWorker("conformance", { vars });
  workers.push(worker);
  const culprit = await member(worker.url, "websocket only");
  const clients = [];
  for (const path of Object.keys(PATHS)) clients.push(await member(worker.url, path));
  for (const c of [culprit, ...clients]) assert.equal(await c.socket.timeout(5_000).emitWithAck("divide", 4), 25);
  return { worker, culprit, clients };
}

/** The culprit's `divide` by 0 panics: it gets no answer, or its disconnection. */
async function panic(worker, culprit) {
  await assert.rejects(culprit.socket.timeout(5_000).emitWithAck("divide", 0));
  await until(() => /RuntimeError: unreachable/.test(worker.log()), 5_000, "workerd to report the panic");
}

describe("a handler's panic", () => {
  it("hibernatable WebSockets: WebSocket sessions go on with their rooms, a polling client reconnects", async () => {
    const { worker, culprit, clients } = await setUp("hibernate");
    after(() => [culprit, ...clients].forEach((c) => c.socket.close()));
    await panic(worker, culprit);
    const [websocketOnly, upgraded, pollingOnly] = clients;
    for (const c of [websocketOnly, upgraded]) {
      assert.equal(await c.socket.timeout(5_000).emitWithAck("divide", 5), 20, `${c.path}: answered after the panic`);
    }
    websocketOnly.socket.emit("to-room-all", "r", "after the panic");
    await until(() => upgraded.heard.includes("after the panic"), 5_000, "the room message");
    for (const c of [websocketOnly, upgraded]) assert.deepEqual(c.disconnects, [], `${c.path}: never disconnected`);
    // The polling session lived in the instance's memory: its next request is refused.
    await until(() => pollingOnly.disconnects.length > 0 && pollingOnly.socket.connected, 15_000, "the polling client's reconnection");
    assert.deepEqual(pollingOnly.disconnects, ["transport error"]);
    assert.equal(await pollingOnly.socket.timeout(5_000).emitWithAck("divide", 10), 10);
  });

  it("standard WebSockets (strict heartbeats): every connection is closed at once and its client reconnects", async () => {
    const { worker, culprit, clients } = await setUp("strict");
    after(() => [culprit, ...clients].forEach((c) => c.socket.close()));
    await panic(worker, culprit);
    // Well before a heartbeat could tell (45 s).
    await until(() => [culprit, ...clients].every((c) => c.disconnects.length > 0), 10_000, "every client's disconnection");
    for (const c of [culprit, ...clients]) {
      assert.deepEqual(c.disconnects, [c.path === "polling only" ? "transport error" : "transport close"], c.path);
    }
    await until(() => [culprit, ...clients].every((c) => c.socket.connected), 15_000, "every client's reconnection");
    for (const c of [culprit, ...clients]) {
      assert.equal(await c.socket.timeout(5_000).emitWithAck("divide", 5), 20, `${c.path}: answered after its reconnection`);
    }
  });
});
