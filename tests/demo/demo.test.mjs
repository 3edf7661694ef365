// The demo app (www-app/, served at /app/ by the chat deployment under real `wrangler dev`)
// in Chromium, several browser contexts at once: chat across rooms with presence and typing,
// a shared drawing, a reload, a cut transport; and the server side of it with the official
// socket.io-client: its validation, its resync by version, the operations endpoint.
// Needs the build (make build: the worker, the browser client and the app).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startWorker } from "../edge/harness.mjs";
import { OPS_TOKEN, drawLine, openApp, say, startDemo, synced, texts } from "./browser.mjs";

let demo;
before(async () => (demo = await startDemo()));
after(() => demo?.stop());

/** The shard a `partition` query parameter sends a session to (FNV-1a, as the worker). */
function shardOf(key, shards = 4) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return String(h % shards);
}

const memberNames = (page) => page.$$eval("#members .member-name", (items) => items.map((li) => li.textContent));
const waitMembers = (page, names) =>
  page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll("#members .member-name")].map((li) => li.textContent)) === want,
    JSON.stringify(names),
  );

describe("the demo app in Chromium", () => {
  it("chats across rooms, with presence (join, leave) and typing", async () => {
    const ada = await openApp(demo.browser, demo.worker.url, "Ada", ["general"]);
    const linus = await openApp(demo.browser, demo.worker.url, "Linus", ["general"]);
    const grace = await openApp(demo.browser, demo.worker.url, "Grace", ["random"]);
    await waitMembers(ada.page, ["Ada (you)", "Linus"]);
    // The room lives on the object its partition names.
    const object = await ada.page.evaluate(() => window.demo.rooms.get("general").connection.manager.engine.id.split("-")[0]);
    assert.equal(object, shardOf("room:general"));

    await linus.page.type("#text", "hi");
    await ada.page.waitForSelector("#typing:has-text('Linus is typing…')");
    await ada.page.waitForSelector("#members .presence.typing");
    await linus.page.fill("#text", "");
    await say(linus.page, "hello general");
    await ada.page.waitForFunction(() => [...document.querySelectorAll("#messages .text")].some((p) => p.textContent === "hello general"));
    await say(grace.page, "hello random");
    assert.deepEqual(await texts(ada.page), ["hello general"]);
    assert.deepEqual(await texts(grace.page), ["hello random"]);

    // Grace joins #general too: its history, and Ada sees her arrive.
    await grace.page.evaluate(() => window.demo.join("general"));
    await synced(grace.page, "general");
    assert.deepEqual(await texts(grace.page), ["hello general"]);
    await waitMembers(ada.page, ["Ada (you)", "Grace", "Linus"]);
    // She leaves it; then Linus closes his browser: the `disconnecting` handler tells Ada.
    await grace.page.click("#leave");
    await waitMembers(ada.page, ["Ada (you)", "Linus"]);
    await linus.context.close();
    await waitMembers(ada.page, ["Ada (you)"]);
    assert.deepEqual(await texts(grace.page), ["hello random"], "back in #random");
    assert.deepEqual([...ada.errors, ...linus.errors, ...grace.errors], []);
    await ada.context.close();
    await grace.context.close();
  });

  it("a drawing made in one context appears in the others, as binary batches, and a late joiner gets it from storage", async () => {
    const ada = await openApp(demo.browser, demo.worker.url, "Ada", ["sketch"]);
    const linus = await openApp(demo.browser, demo.worker.url, "Linus", ["sketch"]);
    await linus.page.evaluate(() => {
      window.received = [];
      window.demo.rooms.get("sketch").board.socket.on("draw", (batch) => window.received.push(batch instanceof ArrayBuffer));
    });
    for (const { page } of [ada, linus]) await page.click('[data-tab="board"]');
    // The batch window is the board's 50 ms timer: on a loaded machine each mouse move can take
    // longer than that, and every point would go as its own batch. The timer is held while the
    // line is drawn, then the board flushes once, as its timer would.
    await ada.page.evaluate(() => clearInterval(window.demo.rooms.get("sketch").board.flusher));
    await drawLine(ada.page, [[0.1, 0.5], [0.5, 0.5], [0.9, 0.5]]);
    await ada.page.evaluate(() => {
      const b = window.demo.rooms.get("sketch").board;
      b.flush();
      b.flusher = setInterval(() => b.flush(), 50);
    });
    const board = (page) =>
      page.evaluate(() => {
        const b = window.demo.rooms.get("sketch").board;
        return { points: b.points.length, sent: b.batchesSent };
      });
    await ada.page.waitForFunction(() => window.demo.rooms.get("sketch").board.pending.length === 0);
    const drawn = await board(ada.page);
    assert.ok(drawn.points >= 8, `points drawn: ${drawn.points}`);
    assert.ok(drawn.sent >= 1 && drawn.sent < drawn.points, `batched: ${drawn.sent} batches for ${drawn.points} points`);
    await linus.page.waitForFunction((n) => window.demo.rooms.get("sketch").board.points.length === n, drawn.points);
    const kinds = await linus.page.evaluate(() => window.received);
    assert.equal(kinds.length, drawn.sent);
    assert.ok(kinds.every(Boolean), "every batch arrives as an ArrayBuffer");
    // Ink where the line went, on the other context's canvas.
    const ink = (page) =>
      page.evaluate(() => {
        const canvas = document.getElementById("canvas");
        const [r, g, b] = canvas.getContext("2d").getImageData(canvas.width * 0.3, canvas.height * 0.5, 1, 1).data;
        return r + g + b < 600;
      });
    assert.ok(await ink(linus.page), "the line is on Linus's canvas");
    const late = await openApp(demo.browser, demo.worker.url, "Grace", ["sketch"]);
    await late.page.click('[data-tab="board"]');
    await late.page.waitForFunction((n) => window.demo.rooms.get("sketch").board.points.length === n, drawn.points);
    assert.ok(await ink(late.page), "the late joiner's canvas has the line");
    // Clearing is for everyone.
    await linus.page.click("#clear");
    for (const { page } of [ada, late]) await page.waitForFunction(() => window.demo.rooms.get("sketch").board.points.length === 0);
    assert.deepEqual([...ada.errors, ...linus.errors, ...late.errors], []);
    for (const { context } of [ada, linus, late]) await context.close();
  });

  it("a reload resyncs: history from storage, members, and what comes next", async () => {
    const ada = await openApp(demo.browser, demo.worker.url, "Ada", ["reload"]);
    const linus = await openApp(demo.browser, demo.worker.url, "Linus", ["reload"]);
    for (const text of ["one", "two", "three"]) await say(linus.page, text);
    await ada.page.reload();
    await ada.page.evaluate(() => window.demo.select("reload"));
    await synced(ada.page, "reload");
    assert.deepEqual(await texts(ada.page), ["one", "two", "three"]);
    assert.equal(await ada.page.textContent("#resync"), "v3 · snapshot of 3 messages");
    assert.equal(await ada.page.textContent("#badge-recovered"), "no");
    await waitMembers(ada.page, ["Ada (you)", "Linus"]);
    await say(linus.page, "four");
    await ada.page.waitForFunction(() => document.querySelectorAll("#messages .text").length === 4);
    assert.deepEqual(await texts(ada.page), ["one", "two", "three", "four"]);
    assert.deepEqual([...ada.errors, ...linus.errors], []);
    await ada.context.close();
    await linus.context.close();
  });

  it("killing the transport triggers a connection state recovery, with no message missing", async () => {
    const ada = await openApp(demo.browser, demo.worker.url, "Ada", ["cut"]);
    const linus = await openApp(demo.browser, demo.worker.url, "Linus", ["cut"]);
    await say(linus.page, "before");
    await ada.page.waitForFunction(() => document.querySelectorAll("#messages .text").length === 1);
    await ada.page.evaluate(() => window.demo.rooms.get("cut").connection.manager.engine.close());
    await ada.page.waitForSelector("#badge[data-state='down']");
    // Sent while Ada is cut off.
    await linus.page.evaluate(async () => {
      const connection = window.demo.rooms.get("cut").connection;
      for (let i = 1; i <= 5; i++) await connection.send(`missed ${i}`);
    });
    await ada.page.waitForFunction(() => {
      const chat = window.demo.rooms.get("cut").connection.chat;
      return chat.connected && chat.recovered;
    });
    // Linus saw her leave with the transport, and come back with the recovered socket.
    await waitMembers(linus.page, ["Ada", "Linus (you)"]);
    await say(linus.page, "after");
    await ada.page.waitForFunction(() => document.querySelectorAll("#messages .text").length >= 7);
    assert.deepEqual(await texts(ada.page), ["before", "missed 1", "missed 2", "missed 3", "missed 4", "missed 5", "after"]);
    assert.equal(await ada.page.textContent("#badge-recovered"), "yes");
    assert.match(await ada.page.textContent("#resync"), /recovered by the server/);
    assert.ok(Number(await ada.page.textContent("#badge-reconnects")) >= 1);
    assert.match(await ada.page.textContent("#badge-transport"), /^(websocket|polling)$/);
    await ada.page.waitForFunction(() => /^\d+ ms$/.test(document.getElementById("badge-ping").textContent));
    assert.deepEqual([...ada.errors, ...linus.errors], []);
    await ada.context.close();
    await linus.context.close();
  });
});

describe("the demo's server", () => {
  /** A socket of `nsp` in `room` (partition `room:<partition>`), connected or refused. */
  function connect(nsp, auth, partition = auth.room) {
    const manager = new Manager(demo.worker.url, { query: { partition: `room:${partition}` }, transports: ["websocket"], reconnection: false });
    const socket = manager.socket(nsp, { auth });
    return new Promise((resolve) => {
      socket.on("connect", () => resolve({ socket }));
      socket.on("connect_error", (error) => resolve({ error: error.message, socket }));
    });
  }

  it("refuses bad names, rooms, partitions, messages and stroke batches with clear errors", async () => {
    const refusals = await Promise.all([
      connect("/chat", { name: "", room: "ok" }),
      connect("/chat", { name: "x".repeat(25), room: "ok" }),
      connect("/chat", { name: "Eve", room: "Not A Room" }),
      connect("/chat", { name: "\u202eevE", room: "ok" }),
      connect("/board", { name: "Eve", room: "ok" }, "other"),
    ]);
    assert.deepEqual(
      refusals.map((r) => r.error),
      [
        "a name has 1 to 24 characters",
        "a name has 1 to 24 characters",
        "a room name has 1 to 32 of a-z, 0-9 and -",
        "a name has no invisible or direction-changing characters",
        "connect with the query parameter partition=room:ok",
      ],
    );
    for (const { socket } of refusals) socket.io.engine?.close();
    const { socket: chat } = await connect("/chat", { name: "Eve", room: "checks" });
    assert.deepEqual(await chat.emitWithAck("message", "   "), { error: "a message has 1 to 500 characters" });
    assert.deepEqual(await chat.emitWithAck("message", "x".repeat(501)), { error: "a message has 1 to 500 characters" });
    const board = chat.io.socket("/board", { auth: { name: "Eve", room: "checks" } });
    await new Promise((resolve) => board.on("connect", resolve));
    const batch = (points, colour = 1, width = 4) => new Uint8Array(points * 10).map((_, i) => (i % 10 === 8 ? colour : i % 10 === 9 ? width : 7)).buffer;
    assert.deepEqual(await board.emitWithAck("draw", new Uint8Array(15).buffer), { error: "a batch is 1 to 400 points of 10 bytes" });
    assert.deepEqual(await board.emitWithAck("draw", batch(401)), { error: "a batch is 1 to 400 points of 10 bytes" });
    assert.deepEqual(await board.emitWithAck("draw", batch(2, 9)), { error: "a point has a colour below 8 and a width of 1 to 40" });
    assert.deepEqual(await board.emitWithAck("draw", batch(2)), { ok: true });
    chat.io.engine.close();
  });

  it("a member recovering through another room's connection is disconnected, not carried onto that room's object", async () => {
    const room = "forks";
    let other = "forked-0";
    for (let i = 1; shardOf(`room:${other}`) === shardOf(`room:${room}`); i++) other = `forked-${i}`;
    const { socket: alice } = await connect("/chat", { name: "Alice", room });
    for (const nsp of ["/chat", "/board"]) {
      const { socket: mallory } = await connect(nsp, { name: "Mallory", room });
      const [pid, sid] = [mallory._pid, mallory.id];
      assert.ok(pid, `${nsp}: recovery is on`);
      mallory.io.engine.close();
      // Its pid, through a connection on the other room's partition (another object).
      const manager = new Manager(demo.worker.url, { query: { partition: `room:${other}` }, transports: ["websocket"], reconnection: false });
      const again = manager.socket(nsp, { auth: { name: "Mallory", room, pid } });
      const events = [];
      again.on("connect", () => events.push(`connect ${again.id === sid ? "recovered" : "fresh"}`));
      again.on("connect_error", (e) => events.push(`connect_error ${e.message}`));
      const reason = await new Promise((resolve) => {
        again.on("disconnect", resolve);
        setTimeout(() => resolve("still connected 5 s later"), 5_000);
      });
      assert.deepEqual(events, ["connect recovered"], `${nsp}: the session moved with the recovery`);
      assert.equal(reason, "io server disconnect", `${nsp}: then disconnected by the server`);
      manager.engine.close();
    }
    // The room's own numbering goes on, with nothing from elsewhere.
    assert.deepEqual(await alice.emitWithAck("message", "still one room"), { seq: 1 });
    const synced = await alice.emitWithAck("sync", null);
    assert.deepEqual(synced.messages.map((m) => m.text), ["still one room"]);
    assert.deepEqual(synced.members.map((m) => m.name), ["Alice"]);
    alice.io.engine.close();
  });

  it("an object keeps the rooms written to most recently (DEMO_ROOMS_KEPT), and forgets the others' history and drawing", async () => {
    const worker = await startWorker("chat", { vars: { MAX_HANDSHAKES_PER_MINUTE: "0", DEMO_ROOMS_KEPT: "2" } });
    try {
      // Three rooms on one object, written to in turn.
      const rooms = [];
      for (let i = 0; rooms.length < 3; i++) if (shardOf(`room:kept-${i}`) === shardOf("room:kept-0")) rooms.push(`kept-${i}`);
      const members = [];
      for (const room of rooms) {
        const manager = new Manager(worker.url, { query: { partition: `room:${room}` }, transports: ["websocket"], reconnection: false });
        const [chat, board] = ["/chat", "/board"].map((nsp) => manager.socket(nsp, { auth: { name: "Kim", room } }));
        await Promise.all([chat, board].map((socket) => new Promise((resolve) => socket.on("connect", resolve))));
        assert.deepEqual(await chat.emitWithAck("message", `hello ${room}`), { seq: 1 });
        assert.deepEqual(await board.emitWithAck("draw", new Uint8Array([1, 0, 0, 0, 9, 0, 9, 0, 1, 4]).buffer), { ok: true });
        members.push({ room, manager, chat, board });
      }
      const kept = [];
      for (const { room, chat, board } of members) {
        const history = (await chat.emitWithAck("sync", null)).messages.map((m) => m.text);
        const drawing = (await board.emitWithAck("sync", null)).strokes.byteLength;
        kept.push([room, history, drawing]);
      }
      assert.deepEqual(kept, [
        [rooms[0], [], 0],
        [rooms[1], [`hello ${rooms[1]}`], 10],
        [rooms[2], [`hello ${rooms[2]}`], 10],
      ]);
      for (const { manager } of members) manager.engine.close();
    } finally {
      await worker.stop();
    }
  });

  it("resyncs by version: a replay after a known version, a snapshot otherwise", async () => {
    const { socket } = await connect("/chat", { name: "Eve", room: "versions" });
    for (const text of ["a", "b", "c", "d"]) await socket.emitWithAck("message", text);
    const replay = await socket.emitWithAck("sync", 2);
    assert.equal(replay.version, 4);
    assert.equal(replay.reset, false);
    assert.deepEqual(replay.messages.map((m) => [m.seq, m.text]), [[3, "c"], [4, "d"]]);
    const snapshot = await socket.emitWithAck("sync", null);
    assert.equal(snapshot.reset, true);
    assert.deepEqual(snapshot.messages.map((m) => m.text), ["a", "b", "c", "d"]);
    assert.deepEqual(snapshot.members.map((m) => m.name), ["Eve"]);
    socket.io.engine.close();
  });

  it("the operations endpoint needs the token, and shows every object with its sessions, rooms and wake-ups", async () => {
    const { socket } = await connect("/chat", { name: "Eve", room: "ops" });
    assert.equal((await fetch(`${demo.worker.url}/api/ops`)).status, 401);
    assert.equal((await fetch(`${demo.worker.url}/api/ops`, { headers: { Authorization: "Bearer wrong" } })).status, 401);
    const response = await fetch(`${demo.worker.url}/api/ops`, { headers: { Authorization: `Bearer ${OPS_TOKEN}` } });
    assert.equal(response.status, 200);
    const { objects } = await response.json();
    assert.deepEqual(objects.map((o) => o.object), ["0", "1", "2", "3"]);
    const home = objects.find((o) => o.object === shardOf("room:ops"));
    assert.ok(home.sessions >= 1);
    assert.ok(home.rooms.some((r) => r.nsp === "/chat" && r.room === "ops" && r.members === 1), JSON.stringify(home.rooms));
    assert.ok(home.events.fetches >= 1 && home.events.websocketMessages >= 1, JSON.stringify(home.events));
    assert.ok(home.nextAlarmMs > Date.now() - 1000, "a heartbeat alarm is set");
    socket.io.engine.close();
  });
});
