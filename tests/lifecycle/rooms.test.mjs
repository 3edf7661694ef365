// The library's state beyond the chat through the platform's lifecycle under real workerd: the
// conformance deployment on 4 objects with socket.io's timings, official socket.io-client 4.8.4
// clients on every transport path (polling then upgrade, WebSocket only, polling only), each
// on an object of its own.
// - A real idle eviction (no test hook): afterwards a room's broadcasts still reach every member
//   on every object exactly once (the room directory and the objects' holdings come back from
//   storage), fetchSockets still finds them, an acknowledgement the server awaited since
//   before the eviction still reaches its handler, and an async handler works in the new instance.
// - A restart of workerd on its persisted state: the clients reconnect, join again, and the
//   room's broadcasts reach each of them exactly once.
// - The adapter's operations over every object after the eviction and after the restart: a
//   broadcast with acknowledgements collects every member's answer (`poll`), and
//   `socketsJoin` puts the room's members in another room, whose broadcasts then reach them.
// - A socket of a dynamic namespace (`/dynamic-<n>`, created on first use) stays connected
//   through the eviction and is answered by the new instance, and again after the restart.
// - An external backend's emit to the room (`POST /socket.io/__emit`) reaches each member
//   exactly once after the eviction and after the restart.
// - A rate limit by client address (`/limited-by-address`: 3 at once, then 1 a minute) is
//   refilled neither by the eviction nor by the restart, for sockets on every transport path
//   (the polling ones opened after the eviction: a held poll keeps its object in memory).
// - A polling-only client that vanishes in an object then evicted (its polling session, kept
//   in memory only, goes with the instance) still gets its `disconnecting` handler, from the
//   next instance: the room hears it leave, although this deployment has no connection state
//   recovery.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { withTimeout } from "../edge/harness.mjs";
import { PATHS, awaitEviction, instances, partitionFor, sleep, until, workerStarter } from "./chat.mjs";

const IDLE_MS = 30_000; // see lifecycle.test.mjs
const SHARDS = 4;
// The default heartbeat (`hibernate`): with `strict`, the conformance default, WebSockets are not
// hibernatable and their object is never evicted.
const SECRET = "lifecycle-emit-secret";
const VARS = {
  SHARDS: String(SHARDS),
  HEARTBEAT: "hibernate",
  PING_INTERVAL: "25000",
  PING_TIMEOUT: "20000",
  CONNECT_TIMEOUT: "45000",
  EMIT_SECRET: SECRET,
};

const start = workerStarter("conformance", VARS);

/** A socket of `nsp` on object `object` over `transports`, recording what it hears. */
function client(url, nsp, object, options) {
  const socket = io(`${url}${nsp}`, { forceNew: true, ...options, query: { partition: partitionFor(object, SHARDS) } });
  const record = { socket, heard: [], disconnects: [], pongs: 0 };
  socket.on("room-message", (text) => record.heard.push(text));
  socket.on("pong", () => record.pongs++);
  socket.on("disconnect", (reason) => record.disconnects.push(reason));
  return record;
}

/** Each member says `round` to the room; every member hears every line once, the outsider none. */
async function roomRound(members, outsider, round) {
  const lines = members.map((_, i) => `${round}:${i}`);
  members.forEach((m, i) => m.socket.emit("to-room", "r", lines[i]));
  const heardRound = (m) => m.heard.filter((t) => t.startsWith(`${round}:`));
  await until(() => members.every((m) => heardRound(m).length >= lines.length), 10_000, `the ${round} round`);
  await sleep(300);
  for (const m of members) assert.deepEqual(heardRound(m).sort(), lines, `${round}: every line once`);
  assert.deepEqual(heardRound(outsider), [], `${round}: the outsider hears nothing`);
}

/**
 * An external backend says `text` to the room over `POST /socket.io/__emit`: every member
 * hears it once, the outsider not at all.
 */
async function externalEmit(url, members, outsider, text) {
  const res = await fetch(`${url}/socket.io/__emit`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ nsp: "/cluster", rooms: ["r"], event: "room-message", args: [text] }),
  });
  assert.equal(res.status, 200, await res.text());
  const heard = (c) => c.heard.filter((t) => t === text);
  await until(() => members.every((m) => heard(m).length > 0), 10_000, `every member to hear ${text}`);
  await sleep(300);
  for (const m of members) assert.deepEqual(heard(m), [text], `${text}: once`);
  assert.deepEqual(heard(outsider), [], `${text}: not the outsider`);
}

/** `c` sends `message` (`value`); what its namespace's handler sent back (`message-back`). */
function echoed(c, value) {
  const back = new Promise((resolve) => c.socket.once("message-back", resolve));
  c.socket.emit("message", value);
  return withTimeout(back, 10_000, `message-back of ${value}`);
}

/** Each of `clients` sends `each` `ping`s; how many `pong`s came back within a second. */
async function pongs(clients, each = 1) {
  const heard = () => clients.reduce((n, c) => n + c.pongs, 0);
  const before = heard();
  for (const c of clients) for (let i = 0; i < each; i++) c.socket.emit("ping", i);
  await sleep(1000);
  return heard() - before;
}

describe("rooms, acknowledgements, async handlers and rate limits through the lifecycle", () => {
  it("survive a real idle eviction and a restart of workerd, on every transport path", async () => {
    let worker = await start();
    const { port, persist } = worker;
    // One member per transport path, each on its own object; an outsider beside the WebSocket one.
    const members = Object.values(PATHS).map((options, i) => client(worker.url, "/cluster", i + 1, options));
    const outsider = client(worker.url, "/cluster", 2, PATHS["websocket only"]);
    const asked = client(worker.url, "/server-ack", 2, PATHS["websocket only"]);
    const noted = client(worker.url, "/async", 2, PATHS["websocket only"]);
    const limited = [client(worker.url, "/limited-by-address", 2, PATHS["websocket only"])];
    const dynamic = client(worker.url, "/dynamic-7", 2, PATHS["websocket only"]);
    const everyone = [...members, outsider, asked, noted, ...limited, dynamic];
    try {
      await until(() => everyone.every((c) => c.socket.connected), 20_000, "every client to connect");
      const join = (m) => m.socket.timeout(5000).emitWithAck("join", "r");
      for (const m of members) assert.equal(await join(m), "r");
      // Joining again after each reconnection, as an application does on `connect`.
      for (const m of members) m.socket.on("connect", () => m.socket.emit("join", "r"));
      members.forEach((m, i) => m.socket.on("question", (asker, callback) => callback(`member ${i}`)));
      const everyMember = members.map((_, i) => `member ${i}`);
      const poll = async () => {
        const answer = await outsider.socket.timeout(10_000).emitWithAck("poll", { room: "r", timeout: 5000 });
        return { ...answer, responses: answer.responses.sort() };
      };
      await roomRound(members, outsider, "before");
      assert.equal(await noted.socket.timeout(5000).emitWithAck("remember", "kept before the eviction"), "kept");
      assert.equal(await pongs(limited, 4), 3, "the rate limit's burst, then nothing");
      const dynamicBack = (value) => ({ nsp: "/dynamic-7", args: JSON.stringify([value]) });
      assert.deepEqual(await echoed(dynamic, "before"), dynamicBack("before"));

      // The server asks with a 120 s acknowledgement; the client answers only after the eviction.
      const question = new Promise((resolve) => asked.socket.once("question", (value, callback) => resolve(callback)));
      const answer = new Promise((resolve) => asked.socket.once("answer", (...args) => resolve(args)));
      asked.socket.emit("ask-later", "still there?");
      const callback = await question;

      await awaitEviction(worker.url, SHARDS, [2], IDLE_MS); // the WebSocket clients' object

      // The first event after the eviction: the emit wakes the evicted object.
      await externalEmit(worker.url, members, outsider, "emitted after the eviction");

      callback("yes, after the eviction");
      assert.deepEqual(await answer, ["yes, after the eviction"], "the awaited acknowledgement reached its handler");
      await roomRound(members, outsider, "after-eviction");
      const found = await outsider.socket.timeout(8000).emitWithAck("fetch", { room: "r" });
      assert.deepEqual(found.map((s) => s.id).sort(), members.map((m) => m.socket.id).sort(), "fetchSockets finds the room");
      assert.deepEqual(await echoed(dynamic, "after the eviction"), dynamicBack("after the eviction"));
      assert.deepEqual(await poll(), { responses: everyMember, timedOut: false }, "every member answered the poll");
      const noteId = noted.socket.id;
      assert.equal(await noted.socket.timeout(5000).emitWithAck("recall", noteId), "kept before the eviction");
      for (const c of everyone) assert.deepEqual(c.disconnects, [], "no disconnect through the eviction");
      // New sockets of the same address on the other paths draw from the same bucket.
      const others = ["polling only", "polling then upgrade"].map((path) =>
        client(worker.url, "/limited-by-address", 2, PATHS[path]),
      );
      limited.push(...others);
      everyone.push(...others);
      await until(() => others.every((c) => c.socket.connected), 20_000, "the polling sockets to connect");
      // Over the eviction (30-60 s) the bucket refilled at most one ping, not three.
      assert.ok((await pongs(limited)) <= 1, "the rate limit's bucket came back from storage");

      await worker.stop();
      worker = await start({ port, persist });
      await until(() => everyone.every((c) => c.socket.connected && c.disconnects.length > 0), 30_000, "the reconnections");
      // The members joined again on `connect`: wait until the room holds all three.
      let inRoom = [];
      const deadline = Date.now() + 10_000;
      while (inRoom.length < members.length && Date.now() < deadline) {
        inRoom = await outsider.socket.timeout(8000).emitWithAck("fetch", { room: "r" });
        if (inRoom.length < members.length) await sleep(200);
      }
      assert.equal(inRoom.length, members.length, "every member is in the room again");
      await roomRound(members, outsider, "after-restart");
      await externalEmit(worker.url, members, outsider, "emitted after the restart");
      assert.deepEqual(await echoed(dynamic, "after the restart"), dynamicBack("after the restart"));
      assert.deepEqual(await poll(), { responses: everyMember, timedOut: false }, "every member answered the poll");
      const joinAll = { room: "r", rooms: ["club"] };
      assert.equal(await outsider.socket.timeout(10_000).emitWithAck("join-all", joinAll), "joined");
      const welcomed = members.map((m) => withTimeout(new Promise((r) => m.socket.once("room-message", r)), 10_000, "club"));
      outsider.socket.emit("to-room", "club", "welcome to the club");
      assert.deepEqual(await Promise.all(welcomed), members.map(() => "welcome to the club"));
      assert.ok((await pongs(limited)) <= 1, "the rate limit's bucket survived the restart");
    } finally {
      everyone.forEach((c) => c.socket.close());
    }
  });
});

describe("a socket lost with its object's memory", () => {
  // Short timings, as in demo.test.mjs's silent members: the object is evicted between the
  // polling session's last ping and that ping's deadline (local workerd evicts 10 s after the
  // last event), so no instance is there to time the session out.
  it("is announced as leaving by the next instance (polling only, no recovery)", { timeout: 120_000 }, async () => {
    const worker = await start({ vars: { ...VARS, PING_INTERVAL: "5000", PING_TIMEOUT: "14000" } });
    const stays = client(worker.url, "/rooms", 1, PATHS["websocket only"]);
    const goes = client(worker.url, "/rooms", 1, PATHS["polling only"]);
    try {
      await until(() => stays.socket.connected && goes.socket.connected, 20_000, "both to connect");
      for (const c of [stays, goes]) assert.equal(await c.socket.timeout(5000).emitWithAck("join", "lobby"), "lobby");
      assert.equal(await goes.socket.timeout(5000).emitWithAck("set-name", "lou"), "lou");
      const left = [];
      stays.socket.on("left", (event) => left.push(event));
      const before = await instances(worker.url, SHARDS);
      // Lou's client vanishes: nothing more is sent, and it stops polling.
      goes.socket.io.reconnection(false);
      goes.socket.io.engine._sendPacket = () => {};
      goes.socket.io.engine.transport._poll = () => {};
      const silentAt = Date.now();
      await until(() => left.length > 0, 60_000, "Lou's leave").catch(() => {});
      const after = await instances(worker.url, SHARDS);
      console.log(`left after ${Date.now() - silentAt} ms: ${JSON.stringify(left)}; instances ${before} then ${after}`);
      assert.ok(after[1] > before[1], "the object was evicted meanwhile");
      // "transport close": the next instance found Lou's socket lost with the previous one (a
      // heartbeat timeout in a living instance would say "ping timeout").
      assert.deepEqual(left, [{ room: "lobby", name: "lou", reason: "transport close" }], "the room heard Lou leave, once");
      assert.ok(stays.socket.connected);
      assert.deepEqual(stays.disconnects, []);
    } finally {
      for (const c of [stays, goes]) c.socket.close();
    }
  });
});
