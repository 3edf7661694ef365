// Emitting from outside any socket (wasmio_edge::Emitter, socket.io's redis-emitter): the
// authenticated HTTP endpoint `POST /socket.io/__emit` for an external backend, a queue
// consumer and a cron trigger of the deployment. Four objects share the sockets: a broadcast
// reaches every object that holds members of its room.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SECRET = "s3cret-for-tests";

describe("emitting from outside any socket", () => {
  let worker;
  const sockets = [];
  before(async () => {
    worker = await startWorker("conformance", { vars: { SHARDS: "4", EMIT_SECRET: SECRET }, testScheduled: true });
  });
  after(async () => {
    sockets.forEach((s) => s.close());
    await worker?.stop();
  });

  /** A socket on /rooms over `transports`, in `room` when one is given. */
  async function member(room, transports = ["polling", "websocket"]) {
    const socket = io(`${worker.url}/rooms`, { forceNew: true, transports });
    sockets.push(socket);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    if (room) assert.equal(await socket.timeout(3000).emitWithAck("join", room), room);
    return socket;
  }

  const emit = (body, secret = SECRET) =>
    fetch(`${worker.url}/socket.io/__emit`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(secret && { Authorization: `Bearer ${secret}` }) },
      body: JSON.stringify(body),
    });

  it("POST __emit with the secret reaches the room's sockets on every object, and only them", async () => {
    const members = [];
    // Members until they sit on at least two objects (new sessions go to a random one).
    while (members.length < 4 || new Set(members.map((s) => s.io.engine.id.split("-")[0])).size < 2) {
      members.push(await member("news", members.length % 2 ? ["websocket"] : ["polling"]));
    }
    const outsider = await member(undefined, ["websocket"]);
    const heard = members.map((s) => new Promise((resolve) => s.once("headline", (...args) => resolve(args))));
    let outsiderHeard = false;
    outsider.on("headline", () => (outsiderHeard = true));
    const res = await emit({ nsp: "/rooms", rooms: ["news"], event: "headline", args: ["hello", { n: 1 }] });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual(await Promise.all(heard), members.map(() => ["hello", { n: 1 }]));
    await sleep(300);
    assert.equal(outsiderHeard, false, "a socket outside the room hears nothing");
  });

  it("refuses another secret or none with 401, and a reserved event name with 400", async () => {
    assert.equal((await emit({ event: "x" }, "wrong")).status, 401);
    assert.equal((await emit({ event: "x" }, null)).status, 401);
    const reserved = await emit({ event: "connect" });
    assert.equal(reserved.status, 400);
    assert.match(await reserved.text(), /reserved/);
    assert.equal((await emit("not an object")).status, 400);
  });

  it("a queue consumer emits a job to a room through the emitter", async () => {
    const reader = await member("jobs", ["websocket"]);
    const heard = new Promise((resolve) => reader.once("job-done", resolve));
    const job = { room: "jobs", event: "job-done", value: { n: 7 } };
    assert.equal(await reader.timeout(3000).emitWithAck("enqueue", job), "queued");
    assert.deepEqual(await Promise.race([heard, sleep(10_000).then(() => "no job")]), { n: 7 });
  });

  it("a cron trigger of the deployment emits to a room through the emitter", async () => {
    const clock = await member("clock", ["websocket"]);
    const tick = new Promise((resolve) => clock.once("tick", resolve));
    const res = await fetch(`${worker.url}/__scheduled?cron=*+*+*+*+*`);
    assert.equal(res.status, 200);
    const at = await Promise.race([tick, sleep(5000).then(() => "no tick")]);
    assert.equal(typeof at, "number", `the tick: ${at}`);
  });
});

describe("a deployment without EMIT_SECRET", () => {
  it("has no emit endpoint (404)", async () => {
    const worker = await startWorker("conformance");
    try {
      const res = await fetch(`${worker.url}/socket.io/__emit`, { method: "POST", body: "{}" });
      assert.equal(res.status, 404);
    } finally {
      await worker.stop();
    }
  });
});
