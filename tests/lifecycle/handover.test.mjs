// Sessions that move between objects (a handover), through the platform's lifecycle under real
// workerd: the conformance deployment with APP = "rooms-recovery" (rooms that span objects,
// connection state recovery) on 4 objects, socket.io's timings, and official socket.io-client
// 4.8.4 receivers on every transport path (polling then upgrade, WebSocket only, polling only)
// in room `r`. Each receiver is sent to an object of the test's choosing by its `partition`
// query, changed before it reconnects (the usual way to refresh a handshake's query), so that
// each reconnection takes its session from the object that held it.
//
// What lives only in the objects' storage is exercised: the move notes an old holder keeps
// with the moved sessions' rooms (the room directory and the relays sent on to the new holder
// depend on them), and sessions handed back to an object that held them before. Through a real
// idle eviction (no test hook) of the objects the sessions left and of the objects that hold
// them, then through a restart of workerd on its persisted state, every broadcast reaches every
// receiver exactly once and in order, and every reconnection recovers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { CHURN_PATHS, churnRoom, cutAway, placedMember, sendTo } from "../edge/churn.mjs";
import { awaitEviction, partitionFor, serverErrors, sleep, until, workerStarter } from "./chat.mjs";

const IDLE_MS = 30_000; // see lifecycle.test.mjs
const SHARDS = 4;
// The default heartbeat (`hibernate`): hibernatable WebSockets, whose objects can be evicted.
const VARS = { APP: "rooms-recovery", SHARDS: String(SHARDS), HEARTBEAT: "hibernate", PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };

const start = workerStarter("conformance", VARS);

/**
 * Closes each receiver's connection (the server sees it) and keeps it away while `whileAway`
 * runs; then sends it to its object of `to` (by path) and waits for its reconnection there.
 */
async function moveAway(receivers, to, whileAway) {
  cutAway(receivers);
  await sleep(500);
  await whileAway();
  const awaited = receivers.map((r) => r.connects.length + 1);
  sendTo(receivers, (r) => to[r.path], SHARDS);
  await until(() => receivers.every((r, i) => r.connects.length >= awaited[i]), 30_000, "the receivers back");
  // A polling-then-upgrade client upgrades (a recovered packet may come with the upgrade).
  await until(() => receivers.every((r) => r.socket.io.engine.transport.name === (r.path === "polling only" ? "polling" : "websocket")), 20_000, "the upgrades");
}

describe("sessions moved between objects through the lifecycle", () => {
  it("recover every broadcast once, in order, through a real idle eviction and a restart of workerd, on every transport path", async () => {
    let worker = await start();
    const { port, persist } = worker;
    const sender = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"], query: { partition: partitionFor(0, SHARDS) } });
    // Every receiver starts on object 1.
    const receivers = Object.keys(CHURN_PATHS).map((path) => placedMember(worker.url, path, 1, SHARDS));
    const said = [];
    /** The sender says `text` to the room; every receiver hears it (`relayMs` later, once sent on). */
    const say = async (text, relayMs = 0) => {
      said.push(text);
      sender.emit("to-room", "r", text);
      if (relayMs) await sleep(relayMs);
      else await until(() => receivers.every((r) => r.got.includes(text)), 10_000, `every receiver to hear ${text}`);
    };
    const check = (when) => {
      for (const r of receivers) {
        assert.deepEqual(r.got, said, `${r.path} (connections: ${r.connects.join(", ")}), ${when}: every broadcast once, in order\n${serverErrors(worker)}`);
      }
    };
    try {
      await until(() => sender.connected && receivers.every((r) => r.socket.connected), 20_000, "every client to connect");
      for (const r of receivers) assert.equal(await r.socket.timeout(5000).emitWithAck("join", "r"), "r");
      await say("before");

      // 1. Away while the room is told two things, then back on other objects: object 1 keeps
      // only the moves' notes (and the rooms with them); object 2 holds the WebSocket sessions.
      await moveAway(receivers, { "polling then upgrade": 2, "websocket only": 2, "polling only": 3 }, () => say("away 1", 1000));
      await say("after the first move");
      check("after the first move");

      // 2. Silence until workerd has evicted the sender's object, the object the sessions left
      // and the one holding the WebSocket sessions (object 3 holds a poll and stays).
      await awaitEviction(worker.url, SHARDS, [0, 1, 2], IDLE_MS);
      await say("after the eviction");
      check("after the eviction");

      // 3. Moved again, from evicted objects: the WebSocket sessions back to object 1, which
      // they left before the eviction.
      await moveAway(receivers, { "polling then upgrade": 1, "websocket only": 1, "polling only": 2 }, async () => {
        await say("away 2", 1000);
        await say("away 3", 1000);
      });
      await say("after the second move");
      check("after the second move");

      // 4. Away across a restart of workerd on its persisted state, then moved once more.
      await moveAway(receivers, { "polling then upgrade": 3, "websocket only": 0, "polling only": 1 }, async () => {
        await say("away 4", 1000);
        await worker.stop();
        worker = await start({ port, persist });
        await until(() => sender.connected, 30_000, "the sender back");
      });
      await say("after the restart");
      check("after the restart");

      for (const r of receivers) {
        const [first, ...others] = r.connects;
        assert.ok(!first.endsWith("recovered"), `${r.path}: a new session first`);
        assert.deepEqual(others.map((c) => c.endsWith("recovered")), [true, true, true], `${r.path}: every reconnection recovered (${r.connects.join(", ")})`);
      }
      const moves = Object.fromEntries(receivers.map((r) => [r.path, r.connects.map((c) => c.split(" ")[0]).join(">")]));
      assert.deepEqual(moves, { "polling then upgrade": "1>2>1>3", "websocket only": "1>2>1>0", "polling only": "1>3>2>1" }, "each moved as sent");
    } finally {
      sender.close();
      for (const r of receivers) r.socket.close();
    }
  });
});

describe("a room spanning objects while its members' sessions move between them at random", () => {
  it("delivers every broadcast once to each member told it recovered, across a real idle eviction and a restart of workerd in the middle of it, on every transport path", async () => {
    let worker = await start();
    const { port, persist } = worker;
    const room = await churnRoom(worker.url);
    try {
      await room.run(400);
      await room.settled();
      // Silence until workerd has evicted every object but those holding a polling-only member
      // (a held poll keeps its object in memory): their move notes and sessions come back from
      // storage.
      const polled = new Set(room.members.filter((c) => c.name.startsWith("polling only")).map((c) => Number(c.socket.io.engine.id.split("-")[0])));
      await awaitEviction(worker.url, SHARDS, [...Array(SHARDS).keys()].filter((n) => !polled.has(n)), IDLE_MS);
      await room.run(400);
      // workerd restarts while the room is told things and members are cut.
      const running = room.run(800);
      await sleep(3_000);
      await worker.stop();
      worker = await start({ port, persist });
      await running;
      console.log(await room.check(worker));
    } finally {
      room.close();
    }
  });
});
