// The demo app's server (deployments/chat: chat rooms on `/chat`, the whiteboard on `/board`,
// the operations endpoint `/api/ops`) through the platform's lifecycle under real workerd,
// with official socket.io-client 4.8.4 members on every transport path (polling then upgrade,
// WebSocket only, polling only), all in one room, hence on its one object (`partition`):
// 1. before: members join, chat, draw;
// 2. a real idle eviction of the room's object (no test hook: the members stay silent until
//    the operations endpoint shows a new instance of it): a WebSocket cut is announced as a
//    leave by an instance that never saw it connect; new members on every path get the whole
//    history and drawing from storage, the member list is the connected members each once,
//    new messages and strokes (one by one and in bursts) reach every member exactly once;
// 3. a restart of workerd on its persisted state (same folder, same port): the members
//    reconnect by themselves and recover, history (in order, none twice) and drawing are
//    intact, the members who came back are listed once, the one who did not is not listed,
//    and what is said and drawn next reaches everyone exactly once; clearing the board clears
//    it for everyone and in storage.
// The polling-only member of step 1 leaves before the idle wait: an object with a polling
// client always has a request in flight and is never evicted (docs/ARCHITECTURE.md, "As built
// (edge)"), and a room has one object. Polling-only members join after the eviction instead,
// and one stays through the restart. After the restart the new workerd announces every member
// as leaving (their connections died with the old one; the live record each left in storage
// lets the new instance run their `disconnecting` handlers), then each member who comes back as
// joining; the one who does not come back stays gone, and the server's member list (`sync`,
// asked at each connection) and the operations view leave her out.
// Zed uses socket.io-client's `forceBase64` (polling then upgrade): the server must send him
// binary as `b<base64>` text frames on his WebSocket, also from the instance rebuilt after the
// eviction (the mark is kept on the WebSocket) and after the restart: every stroke he gets in
// each step comes that way, and no binary frame ever.
// Last: a member fallen silent with its WebSocket open in a hibernated room is closed by the
// heartbeat and announced as leaving, although the object is evicted between each ping and
// its deadline.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { PATHS, sleep, until, workerStarter } from "./chat.mjs";

// Local workerd evicts an idle object about 10 s after its last event (lifecycle.test.mjs).
const IDLE_MS = 30_000;
const OPS_TOKEN = "lifecycle-ops-token";
// HEARTBEAT=hibernate (the deployment's default) lets the object be evicted with WebSockets
// open; every member connects from one loopback address: no handshake budget per address.
const VARS = { HEARTBEAT: "hibernate", OPS_TOKEN, MAX_HANDSHAKES_PER_MINUTE: "0" };
const ROOM = "lifecycle";
const ACK_MS = 8000;

const start = workerStarter("chat", VARS);

/** The objects as the operations endpoint shows them (an event for each object). */
async function ops(url) {
  const response = await fetch(`${url}/api/ops`, { headers: { Authorization: `Bearer ${OPS_TOKEN}` } });
  assert.equal(response.status, 200, "the operations endpoint answers with the token");
  return (await response.json()).objects;
}

/**
 * Stays silent `IDLE_MS` (twice at most) until the operations endpoint shows a new instance
 * of `object` (a later `instanceStartedMs`: workerd dropped the old one's memory); fails if
 * it did not. Reading it is an event too, so it is read only after each wait.
 */
async function awaitEviction(url, object) {
  const of = async () => (await ops(url)).find((o) => o.object === object);
  const before = await of();
  let after;
  for (let wait = 1; wait <= 2; wait++) {
    await sleep(IDLE_MS);
    after = await of();
    const events = JSON.stringify(after.events);
    console.log(`object ${object}: instance started ${before.instanceStartedMs}, after ${wait * IDLE_MS} ms idle ${after.instanceStartedMs} ${events}`);
    if (after.instanceStartedMs > before.instanceStartedMs) break;
  }
  assert.ok(after.instanceStartedMs > before.instanceStartedMs, `object ${object} was evicted: ${JSON.stringify({ before, after })}`);
}

/**
 * A member of the room on transport path `path` (with client `options`, their `auth` added
 * to its sockets' auth): one connection (Manager) carrying its `/chat` and `/board` sockets,
 * recording the messages, presence events and stroke batches it hears, and how the frames on
 * its WebSockets came (`frames`).
 */
function join(url, name, path, options = {}) {
  const manager = new Manager(url, { ...PATHS[path], ...options, query: { partition: `room:${ROOM}` } });
  const auth = { name, room: ROOM, ...options.auth };
  const m = { name, path, manager, chat: manager.socket("/chat", { auth }), board: manager.socket("/board", { auth }) };
  Object.assign(m, { messages: [], presence: [], strokes: [], clears: 0, disconnects: [], connectErrors: [] });
  m.chat.on("message", (message) => m.messages.push(message));
  m.chat.on("presence", (event) => m.presence.push(event));
  m.board.on("draw", (batch) => m.strokes.push(Buffer.from(batch).toString("hex")));
  m.board.on("clear", () => (m.clears += 1));
  m.frames = { base64: 0, binary: 0 };
  const watch = (transport) =>
    transport.ws?.addEventListener("message", ({ data }) => {
      if (typeof data !== "string") m.frames.binary += 1;
      else if (data.startsWith("b")) m.frames.base64 += 1;
    });
  // Each connection (after a restart too): its WebSocket from the start, or from the upgrade.
  manager.on("open", () => {
    watch(manager.engine.transport);
    manager.engine.on("upgrade", watch);
  });
  for (const socket of [m.chat, m.board]) {
    socket.on("disconnect", (reason) => m.disconnects.push(`${socket.nsp} ${reason}`));
    socket.on("connect_error", (error) => m.connectErrors.push(`${socket.nsp} ${error.message}`));
  }
  return m;
}

const connected = (m) =>
  m.chat.connected && m.board.connected && (m.path !== "polling then upgrade" || m.manager.engine?.transport?.name === "websocket");

/** Resolves once every member in `members` is connected (upgraded where it upgrades). */
const ready = (members, what) => until(() => members.every(connected), 20_000, what);

/** The room's object, from a member's Engine.IO session id (`<object>-<random>`). */
const objectOf = (m) => m.manager.engine.id.split("-")[0];

/** A stroke batch of `points` 10-byte points of stroke `stroke` (distinct bytes per stroke). */
function batch(stroke, points = 3) {
  const bytes = Buffer.alloc(points * 10);
  for (let i = 0; i < points; i++) {
    bytes.writeUInt32LE(stroke, i * 10);
    bytes.writeUInt16LE(1000 * stroke + i, i * 10 + 4);
    bytes.writeUInt16LE(500 * i + stroke, i * 10 + 6);
    bytes[i * 10 + 8] = stroke % 8;
    bytes[i * 10 + 9] = 1 + (stroke % 40);
  }
  return bytes;
}

/** The texts of the room's messages and the hex of its stroke batches, in the server's order. */
const said = [];
const drawn = [];
/** The last stroke id used. */
let strokes = 0;

/** Each of `senders` says a line tagged `round`; every member of `everyone` hears each once. */
async function chatRound(senders, everyone, round) {
  const lines = senders.map((m, i) => `${round}:${m.name}:${i}`);
  // One after the other, so that the expected history order is the order sent.
  for (const [i, m] of senders.entries()) {
    const answer = await m.chat.timeout(ACK_MS).emitWithAck("message", lines[i]);
    assert.equal(typeof answer.seq, "number", `${m.name}: the message is numbered: ${JSON.stringify(answer)}`);
    said.push(lines[i]);
  }
  const heard = (m) => m.messages.filter((x) => x.text.startsWith(`${round}:`));
  await until(() => everyone.every((m) => heard(m).length >= lines.length), 10_000, `the ${round} messages`);
  await sleep(500); // a duplicate would arrive about as late as the slowest delivery
  for (const m of everyone) {
    assert.deepEqual(heard(m).map((x) => x.text), lines, `${m.name} (${m.path}): every ${round} message once, in order`);
  }
}

/** Each of `drawers` sends a batch; every other member of `everyone` gets each once. */
async function drawRound(drawers, everyone, round) {
  const sent = [];
  for (const m of drawers) {
    const bytes = batch(++strokes);
    assert.deepEqual(await m.board.timeout(ACK_MS).emitWithAck("draw", bytes), { ok: true }, `${m.name}: batch kept`);
    drawn.push(bytes.toString("hex"));
    sent.push({ from: m, hex: bytes.toString("hex") });
  }
  const expected = (m) => sent.filter((s) => s.from !== m).map((s) => s.hex);
  const got = (m) => m.strokes.filter((hex) => sent.some((s) => s.hex === hex));
  await until(() => everyone.every((m) => got(m).length >= expected(m).length), 10_000, `the ${round} strokes`);
  await sleep(500);
  for (const m of everyone) {
    assert.deepEqual(got(m), expected(m), `${m.name} (${m.path}): every ${round} stroke of the others once, as sent`);
  }
}

/**
 * Every member of `everyone` sends `n` messages and `n` stroke batches at once, without
 * waiting for answers: each message gets its own number (none lost, none twice), every member
 * hears them in that order, once each; the drawing keeps every batch once, and every member
 * gets the others' batches once each, in the order the drawing keeps them.
 */
async function burst(everyone, round, n = 3) {
  const messages = everyone.flatMap((m) => Array.from({ length: n }, (_, i) => ({ m, text: `${round}:${m.name}:${i}` })));
  const batches = everyone.flatMap((m) => Array.from({ length: n }, () => ({ m, bytes: batch(++strokes) })));
  const [acks, drawAcks] = await Promise.all([
    Promise.all(messages.map(({ m, text }) => m.chat.timeout(ACK_MS).emitWithAck("message", text))),
    Promise.all(batches.map(({ m, bytes }) => m.board.timeout(ACK_MS).emitWithAck("draw", bytes))),
  ]);
  const seqs = acks.map((a) => a.seq);
  assert.deepEqual([...seqs].sort((a, b) => a - b), seqs.map((_, i) => said.length + 1 + i), `${round}: one number per message`);
  const inOrder = messages.map((x, i) => ({ ...x, seq: seqs[i] })).sort((a, b) => a.seq - b.seq).map((x) => x.text);
  said.push(...inOrder);
  assert.ok(drawAcks.every((a) => a.ok === true), `${round}: every batch kept: ${JSON.stringify(drawAcks)}`);
  const hexes = batches.map((b) => ({ m: b.m, hex: b.bytes.toString("hex") }));
  const { strokes: drawing } = await resync(everyone[0]);
  assert.ok(drawing.startsWith(drawn.join("")), `${round}: the drawing so far is kept`);
  const kept = drawing.slice(drawn.join("").length).match(/.{60}/g) ?? [];
  assert.deepEqual([...kept].sort(), hexes.map((h) => h.hex).sort(), `${round}: the drawing has every batch once`);
  drawn.push(...kept);
  const heard = (m) => m.messages.filter((x) => x.text.startsWith(`${round}:`)).map((x) => x.text);
  const others = (m) => kept.filter((hex) => hexes.find((h) => h.hex === hex).m !== m);
  const got = (m) => m.strokes.filter((hex) => hexes.some((h) => h.hex === hex));
  const done = () => everyone.every((m) => heard(m).length >= inOrder.length && got(m).length >= others(m).length);
  await until(done, 10_000, `the ${round} burst`);
  await sleep(500);
  for (const m of everyone) {
    assert.deepEqual(heard(m), inOrder, `${m.name} (${m.path}): every ${round} message once, in the room's order`);
    assert.deepEqual(got(m), others(m), `${m.name} (${m.path}): every ${round} batch of the others once, in the drawing's order`);
  }
}

/** What `m` gets from storage as a (re)joining client: the chat's snapshot and the drawing. */
async function resync(m) {
  const chat = await m.chat.timeout(ACK_MS).emitWithAck("sync", null);
  const board = await m.board.timeout(ACK_MS).emitWithAck("sync");
  return { chat, strokes: Buffer.from(board.strokes).toString("hex") };
}

/** Checks `m`'s snapshot: the whole history in order, the whole drawing, `present` listed once each. */
async function checkResync(m, present, when) {
  const { chat, strokes } = await resync(m);
  assert.equal(chat.reset, true, `${when}: a snapshot`);
  assert.deepEqual(chat.messages.map((x) => x.text), said, `${when}: ${m.name} gets the whole history, in order, none twice`);
  assert.deepEqual(chat.messages.map((x) => x.seq), said.map((_, i) => i + 1), `${when}: numbered 1..${said.length}`);
  assert.equal(chat.version, said.length, `${when}: the room's version`);
  assert.equal(strokes, drawn.join(""), `${when}: ${m.name} gets the whole drawing (${drawn.length} batches), in order`);
  const listed = chat.members.map((x) => `${x.name} ${x.id}`).sort();
  const expected = present.map((p) => `${p.name} ${p.chat.id}`).sort();
  assert.deepEqual(listed, expected, `${when}: the members listed are the connected ones, each once`);
}

/** Presence events as `<event> <name>`. */
const names = (events) => events.map((p) => `${p.event} ${p.name}`);

/** The room's `/chat` members as the operations endpoint counts them on `object`. */
async function opsMembers(url, object) {
  const home = (await ops(url)).find((o) => o.object === object);
  return home.rooms.find((r) => r.nsp === "/chat" && r.room === ROOM)?.members ?? 0;
}

describe("the demo's rooms and whiteboard through the lifecycle", () => {
  let worker;
  let object;
  /** Every member that joined, and those still connected. */
  const all = [];
  let present = [];
  const enter = async (name, path, options) => {
    const m = join(worker.url, name, path, options);
    all.push(m);
    await ready([m], `${name} (${path}) to join`);
    present.push(m);
    return m;
  };
  /** `m` disconnects both sockets, which closes its connection and ends its reconnections. */
  const leave = (m) => {
    m.chat.disconnect();
    m.board.disconnect();
    present = present.filter((p) => p !== m);
  };
  after(() => all.forEach((m) => [m.chat, m.board].forEach((s) => s.disconnect())));
  /** The steps passed so far: each step goes on from the state the previous one left. */
  let passed = 0;
  /** Zed (forceBase64) got binary only as base64 text frames, some since `before` of them. */
  const base64Only = (zed, before, when) => {
    assert.equal(zed.frames.binary, 0, `${when}: Zed (forceBase64) got no binary frame`);
    assert.ok(zed.frames.base64 > before, `${when}: Zed got strokes as base64 text frames (${zed.frames.base64})`);
  };
  const previousPassed = (n) => assert.equal(passed, n, "the previous step passed (this one goes on from its state)");

  it("before: members on every path join one object, chat and draw", { timeout: 120_000 }, async () => {
    worker = await start();
    const ada = await enter("Ada", "polling then upgrade");
    // Bob's auth carries a long token: his session's snapshot is kept in storage, not in his
    // WebSocket's 2 KB attachment, and must come back from there after the eviction.
    const bob = await enter("Bob", "websocket only", { auth: { token: "t".repeat(3000) } });
    const cyd = await enter("Cyd", "polling only");
    const gus = await enter("Gus", "websocket only");
    const zed = await enter("Zed", "polling then upgrade", { forceBase64: true });
    object = objectOf(ada);
    assert.deepEqual([bob, cyd, gus, zed].map(objectOf), [object, object, object, object], "the room lives on one object");
    await checkResync(gus, present, "before");
    await until(() => ada.presence.length >= 4, 10_000, "the arrivals");
    assert.deepEqual(names(ada.presence), ["join Bob", "join Cyd", "join Gus", "join Zed"], "Ada heard the others arrive");
    await chatRound(present, present, "before");
    await drawRound([ada, bob, cyd, gus, zed, ada], present, "before");
    base64Only(zed, 0, "before");
    // Cyd leaves (a polling client would keep the object from being evicted): the others hear it.
    leave(cyd);
    await until(() => present.every((m) => m.presence.some((p) => p.event === "leave" && p.name === "Cyd")), 10_000, "Cyd's leave");
    await checkResync(bob, present, "after Cyd left");
    assert.equal(await opsMembers(worker.url, object), 4, "the operations view counts the four members left");
    passed = 1;
  });

  it("after a real idle eviction: history, drawing and presence from a new instance, on every path", { timeout: 150_000 }, async () => {
    previousPassed(1);
    const [ada, bob, gus, zed] = present;
    const zedBase64 = zed.frames.base64;
    await awaitEviction(worker.url, object);
    for (const m of [ada, bob, gus, zed]) {
      assert.deepEqual(m.disconnects, [], `${m.name}: no disconnect through the eviction`);
      assert.ok(connected(m), `${m.name}: still connected`);
    }
    // Gus's WebSocket is cut (no Socket.IO DISCONNECT, no reconnection): an instance that never
    // saw him connect (rebuilt from the WebSockets' attachments) must tell the others he left.
    gus.manager.reconnection(false);
    gus.manager.engine.close();
    present = present.filter((m) => m !== gus);
    await until(() => [ada, bob, zed].every((m) => m.presence.some((p) => p.event === "leave" && p.name === "Gus")), 10_000, "Gus's leave");
    await checkResync(bob, present, "after the eviction and Gus's leave");
    // New members on every path, each getting everything from storage.
    const dan = await enter("Dan", "polling only");
    await checkResync(dan, present, "after the eviction, a polling member");
    const eve = await enter("Eve", "websocket only");
    await checkResync(eve, present, "after the eviction, a WebSocket member");
    const fay = await enter("Fay", "polling then upgrade");
    await checkResync(fay, present, "after the eviction, an upgraded member");
    assert.deepEqual([dan, eve, fay].map(objectOf), [object, object, object], "on the room's object");
    await until(() => ada.presence.length >= 9 && bob.presence.length >= 8 && zed.presence.length >= 5, 10_000, "the arrivals");
    const since = ["leave Cyd", "leave Gus", "join Dan", "join Eve", "join Fay"];
    assert.deepEqual(names(ada.presence), ["join Bob", "join Cyd", "join Gus", "join Zed", ...since]);
    assert.deepEqual(names(bob.presence), ["join Cyd", "join Gus", "join Zed", ...since]);
    assert.deepEqual(names(zed.presence), since);
    await chatRound(present, present, "after-eviction");
    await drawRound([dan, eve, fay, ada, bob, zed], present, "after-eviction");
    await burst(present, "burst-after-eviction");
    base64Only(zed, zedBase64, "after the eviction");
    await checkResync(ada, present, "after the eviction's rounds");
    assert.equal(await opsMembers(worker.url, object), present.length, "the operations view counts the members");
    for (const m of present) assert.deepEqual(m.connectErrors, [], `${m.name}: no connect error`);
    passed = 2;
  });

  it("after a restart of workerd on its persisted state: members come back once, the absent one is not listed", { timeout: 150_000 }, async () => {
    previousPassed(2);
    const { port, persist } = worker;
    const eve = present.find((m) => m.name === "Eve");
    const zed = present.find((m) => m.name === "Zed");
    const zedBase64 = zed.frames.base64;
    const heardBefore = new Map(present.map((m) => [m, m.presence.length]));
    await worker.stop();
    // Eve (WebSocket only) goes away while the server is down: she never comes back.
    await until(() => !eve.chat.connected, 10_000, "Eve to see the server gone");
    leave(eve);
    worker = await start({ port, persist });
    await until(() => present.every((m) => connected(m) && m.disconnects.length > 0), 45_000, "the reconnections");
    for (const m of present) {
      assert.equal(m.chat.recovered, true, `${m.name} (${m.path}): its chat socket recovered after the restart`);
      assert.ok(m.disconnects.every((d) => /transport (close|error)/.test(d)), `${m.name}: ${m.disconnects}`);
    }
    // Every connection died with the old workerd. The new one finds their live records and
    // runs their `disconnecting` handlers at its first event: every member, Eve included, is
    // announced as leaving (in the recovery's replay of what they missed). Then each member who
    // came back is announced (`join`) to every other once: live to those back before it, in
    // the replay to those back after. Eve's return is never announced.
    for (const m of present) {
      const since = names(m.presence.slice(heardBefore.get(m)));
      console.log(`${m.name} (${m.path}) heard after the restart: ${since.join(", ")}`);
      const others = present.filter((p) => p !== m).map((p) => p.name);
      const expected = [...others.map((n) => `leave ${n}`), "leave Eve", ...others.map((n) => `join ${n}`)];
      assert.deepEqual([...since].sort(), expected.sort(), `${m.name}: each member left once, each return announced once`);
      for (const n of others) {
        assert.ok(since.indexOf(`leave ${n}`) < since.indexOf(`join ${n}`), `${m.name}: ${n} left before coming back`);
      }
    }
    // Each member that came back is listed once; Eve is not.
    for (const m of present) await checkResync(m, present, `after the restart (${m.name}, ${m.path})`);
    await chatRound(present, present, "after-restart");
    await drawRound(present, present, "after-restart");
    await burst(present, "burst-after-restart");
    base64Only(zed, zedBase64, "after the restart");
    await checkResync(present[0], present, "after the restart's rounds");
    assert.equal(await opsMembers(worker.url, object), present.length, "the operations view counts the members who came back");
    assert.deepEqual(eve.messages.filter((x) => x.text.startsWith("after-restart:")), [], "Eve is gone");
    // Clearing the board after the restart is for everyone, once; the kept drawing is emptied.
    present[0].board.emit("clear");
    await until(() => present.every((m) => m.clears >= 1), 10_000, "the clear");
    drawn.length = 0;
    await drawRound([present[1]], present, "after-clear");
    for (const m of present) assert.equal(m.clears, 1, `${m.name}: the board cleared once`);
    await checkResync(present[2], present, "after the clear");
  });
});

// A member whose client falls silent with its WebSocket open (a laptop closed, a network gone:
// no close reaches workerd) must be closed by the heartbeat and announced as leaving, and
// `sync` must stop listing it. With HEARTBEAT=hibernate the object is evicted between the
// ping and the pong deadline (local workerd evicts 10 s after the last event), and the
// instance the deadline alarm wakes rebuilds the session from its tag alone, forgetting the
// ping. It used to ping again, so the silent member stayed listed forever (seen: still listed
// after 90 s with socket.io's timings). Now the session is rebuilt knowing when workerd last
// answered the client's pong and when the object last pinged (Endpoint::resume_websocket): a
// client pinged since and silent is closed at that ping's deadline, at most pingInterval +
// pingTimeout after its last pong (tests/lifecycle/heartbeat.test.mjs times it).
// Short timings here (ping every 5 s, 14 s to answer) so that the eviction falls between a
// ping and its deadline: Hal's leave within about 33 s of his last pong.
/**
 * Ivy stays; the `silent` members (name -> transport path) join room `room`, then fall silent
 * (nothing sent, pongs included; a polling one stops polling too) without reconnecting. Ivy
 * must hear each of them leave, and be the only member `sync` lists.
 */
async function fallSilent(room, silent) {
  const silentWorker = await start({ vars: { ...VARS, PING_INTERVAL: "5000", PING_TIMEOUT: "14000" } });
  const member = (name, path) => {
    const manager = new Manager(silentWorker.url, { ...path, query: { partition: `room:${room}` } });
    const chat = manager.socket("/chat", { auth: { name, room } });
    const m = { name, path, manager, chat, presence: [] };
    chat.on("presence", (event) => m.presence.push(event));
    return m;
  };
  const ivy = member("Ivy", PATHS["websocket only"]);
  const quiet = Object.entries(silent).map(([name, path]) => member(name, path));
  try {
    await until(() => ivy.chat.connected, 20_000, "Ivy to join");
    for (const m of quiet) {
      // A WebSocket that came by the upgrade from polling was accepted at the upgrade.
      const upgraded = () => !m.path.transports && m.manager.engine.transport.name === "websocket";
      await until(() => m.chat.connected && (m.path.transports || upgraded()), 20_000, `${m.name} to join`);
    }
    const object = ivy.manager.engine.id.split("-")[0];
    const startedBefore = (await ops(silentWorker.url)).find((o) => o.object === object).instanceStartedMs;
    for (const m of quiet) {
      m.manager.reconnection(false);
      m.manager.engine._sendPacket = () => {};
      if (m.manager.engine.transport.name === "polling") m.manager.engine.transport._poll = () => {};
    }
    const silentAt = Date.now();
    const gone = (name) => ivy.presence.some((p) => p.event === "leave" && p.name === name);
    // A last pong at most 5 s before the silence: the next ping's deadline wakes a new instance
    // (too early to judge), whose ping's deadline, 14 s on, closes the silent ones.
    await until(() => quiet.every((m) => gone(m.name)), 50_000, "the leaves").catch(() => {});
    const home = (await ops(silentWorker.url)).find((o) => o.object === object);
    const instances = `instance started ${startedBefore}, now ${home.instanceStartedMs}`;
    console.log(`${Object.keys(silent)} silent ${Date.now() - silentAt} ms; ${instances}; Ivy heard ${names(ivy.presence)}`);
    const { members } = await ivy.chat.timeout(ACK_MS).emitWithAck("sync", null);
    for (const m of quiet) assert.ok(gone(m.name), `Ivy heard ${m.name} leave`);
    assert.deepEqual(members.map((m) => m.name), ["Ivy"], "only Ivy is listed");
  } finally {
    for (const m of [ivy, ...quiet]) m.chat.disconnect();
  }
}

describe("a member fallen silent in a hibernated room", () => {
  it("is closed by the heartbeat and announced as leaving (WebSocket only, polling then upgrade)", { timeout: 120_000 }, () =>
    fallSilent("quiet", { Hal: PATHS["websocket only"], Kim: PATHS["polling then upgrade"] }),
  );

  // A polling-only client that vanishes stops polling: with no request open, the object is
  // evicted and its polling session, kept in memory only, goes with it. The next instance
  // finds the socket's live record and disconnects it ("transport close", Server::adopt_orphans):
  // its `disconnecting` handler runs there. (It used to be made recoverable silently: the room
  // never heard Lou leave.)
  it("is closed and announced as leaving (polling only)", { timeout: 120_000 }, () =>
    fallSilent("hushed", { Lou: PATHS["polling only"] }),
  );
});
