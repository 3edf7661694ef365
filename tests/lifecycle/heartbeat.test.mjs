// Heartbeats through a real idle eviction (chat deployment, official socket.io-client 4.8.4 on
// every transport path, and raw WebSocket peers that fall silent): a peer that stops answering
// pings is closed at its ping's deadline, as the reference server closes it, though the
// object was evicted between the ping and the deadline; an instance woken by chat messages
// before a client's next ping is due does not ping it at the wake (until 2026-12-04 every woken instance pinged each WebSocket
// client at once, and then had a pong deadline to be woken for again). The pings still come:
// at their time, or early on another alarm within half an interval of it, where heartbeats
// align (protocol/src/engine/endpoint.rs).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { watchCloseFrame, withTimeout } from "../edge/harness.mjs";
import { PATHS, chatRound, closeAll, connectClients, instances, partitionFor, sleep, until, workerStarter } from "./chat.mjs";

const SHARDS = 4;
const PING_INTERVAL = 60_000;
const VARS = { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0", PING_INTERVAL: String(PING_INTERVAL) };
// Local workerd evicts an object about 10 s after its last event (the chat deployment's own
// alarms come within seconds of the messages); the first ping is due 60 s in, after the wake.
const IDLE_MS = 30_000;
// The chat's own alarm (the relay's retry) comes 5 s after its messages: a ping within this
// window of the wake was sent by the wake itself.
const AT_WAKE_MS = 3_000;

const start = workerStarter(undefined, VARS);

describe("heartbeats through a real eviction", () => {
  it("an object woken before a ping is due does not ping at the wake, on every path", async () => {
    const worker = await start();
    // The WebSocket sessions on an object of their own (one with a polling client always has a
    // request in flight and is never evicted).
    const placement = {
      "polling then upgrade": partitionFor(1, SHARDS),
      "websocket only": partitionFor(1, SHARDS),
      "polling only": partitionFor(2, SHARDS),
    };
    const connectedAt = Date.now();
    const clients = await connectClients(worker.url, 1, {}, placement);
    for (const c of clients) {
      c.pings = [];
      c.socket.io.on("ping", () => c.pings.push(Date.now()));
    }
    try {
      await chatRound(clients, "before");
      const before = await instances(worker.url, SHARDS);
      await sleep(IDLE_MS);
      // The messages wake the WebSocket clients' object: a new instance counts them (reading
      // the counts counts nothing, so it tells an eviction only after a counted event).
      const wokenAt = Date.now();
      await chatRound(clients, "after-eviction");
      const after = await instances(worker.url, SHARDS);
      assert.ok(after[1] > before[1], `object 1 was evicted: instances ${before} before, ${after} after`);
      assert.ok(wokenAt + AT_WAKE_MS < connectedAt + PING_INTERVAL, "woken before a ping was due");
      // Past the first ping's time: each client has had it.
      await sleep(Math.max(0, connectedAt + PING_INTERVAL + 3_000 - Date.now()));
      for (const c of clients) {
        const when = c.pings.map((t) => `${t - connectedAt} ms`).join(", ") || "none";
        const woken = `woken ${wokenAt - connectedAt} ms in; pings at ${when}`;
        assert.ok(!c.pings.some((t) => t >= wokenAt && t < wokenAt + AT_WAKE_MS), `${c.path}: no ping at the wake (${woken})`);
        assert.ok(c.pings.length >= 1, `${c.path}: pinged by its time (${woken})`);
        assert.deepEqual(c.disconnects, [], `${c.path}: no disconnect`);
      }
      await chatRound(clients, "after-pings");
    } finally {
      closeAll(clients);
    }
  });
});

// socket.io's timings: the object is evicted (about 10 s after its last event) between each
// ping and its deadline. Until 2026-12-05 the instance the deadline woke had forgotten the
// ping: it pinged again and closed the peer a whole heartbeat late (65 s instead of 45 s for
// a peer silent from the start; up to 95 s instead of 70 s for one that answered a ping). Now
// the object keeps when it last pinged (edge/src/persistence.rs, PINGED_KEY).
const SILENT_VARS = { PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
// The alarm fires at the deadline; allow for a loaded 2-core machine.
const SLACK_MS = 6_000;

/**
 * A raw Engine.IO WebSocket peer on object 1 that joins the main namespace and answers its
 * first `answers` pings, then nothing: the times of its pings, its pongs and the close frame.
 */
async function silentPeer(url, answers) {
  const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&partition=${partitionFor(1, SHARDS)}`);
  const peer = { ws, pings: [], pongs: [], closedAt: undefined };
  watchCloseFrame(ws, () => (peer.closedAt ??= Date.now()));
  ws.on("error", () => {});
  ws.on("message", (data) => {
    if (String(data) !== "2") return;
    peer.pings.push(Date.now());
    if (peer.pongs.length < answers) {
      ws.send("3");
      peer.pongs.push(Date.now());
    }
  });
  await new Promise((resolve, reject) => ws.once("message", resolve).once("error", reject)); // the open packet
  ws.send("40");
  peer.openedAt = Date.now();
  return peer;
}

describe("a WebSocket peer fallen silent, through real evictions", () => {
  it("is closed at its ping's deadline (pingInterval + pingTimeout after it was last heard), not a heartbeat later", { timeout: 150_000 }, async () => {
    const worker = await start({ vars: { ...VARS, ...SILENT_VARS } });
    const before = await instances(worker.url, SHARDS);
    const [mute, once] = [await silentPeer(worker.url, 0), await silentPeer(worker.url, 1)];
    try {
      await until(() => mute.closedAt && once.closedAt, 110_000, "both peers to be closed");
      const after = await instances(worker.url, SHARDS);
      assert.ok(after[1] >= before[1] + 2, `object 1 was evicted between the pings and their deadlines: instances ${before[1]} -> ${after[1]}`);
      const ms = (t, from) => `${t - from} ms`;
      const timeline = (p) => `pings at ${p.pings.map((t) => ms(t, p.openedAt))}, closed at ${ms(p.closedAt, p.openedAt)}`;
      // Never answered: its first ping (25 s in) had until 45 s.
      assert.equal(mute.pings.length, 1, `the mute peer was pinged once: ${timeline(mute)}`);
      assert.ok(mute.closedAt - mute.openedAt >= 45_000 - 100, `not before its deadline: ${timeline(mute)}`);
      assert.ok(mute.closedAt - mute.openedAt <= 45_000 + SLACK_MS, `closed at its deadline: ${timeline(mute)}`);
      // Answered the first ping: the next one came within an interval of that pong (up to half an
      // interval early, on a shared alarm), and the close at that ping's deadline.
      const heard = once.pongs[0];
      assert.equal(once.pings.length, 2, `pinged once more after its pong: ${timeline(once)}`);
      assert.ok(once.closedAt - heard >= 12_500 + 20_000 - 100, `not before its deadline: ${timeline(once)}`);
      assert.ok(once.closedAt - heard <= 25_000 + 20_000 + SLACK_MS, `closed at its deadline: ${timeline(once)}`);
    } finally {
      mute.ws.terminate();
      once.ws.terminate();
    }
  });
});

/** The numbered object of 4 that the demo's room `room` lives on (its `room:<room>` partition). */
function objectOfRoom(room) {
  const fnv1a = (key) => [...Buffer.from(key)].reduce((h, b) => Math.imul(h ^ b, 0x01000193) >>> 0, 0x811c9dc5);
  return fnv1a(`room:${room}`) % SHARDS;
}

/**
 * A member of the demo's `room` in a process of its own (socket.io-client 4.8.4 on `transports`),
 * which prints its socket id once connected: SIGSTOP makes it a sleeping laptop, a peer that
 * neither answers pings nor the server's close. Once it runs again it reconnects; `lines` has
 * what it printed: each connection (`connected <id> <recovered>`) and each room `message`.
 */
async function sleeperProcess(url, room, name, transports) {
  const script = `
    import { io } from "socket.io-client";
    const socket = io(${JSON.stringify(`${url}/chat`)}, { transports: ${JSON.stringify(transports)},
      query: { partition: ${JSON.stringify(`room:${room}`)} }, auth: { name: ${JSON.stringify(name)}, room: ${JSON.stringify(room)} } });
    socket.on("connect", () => {
      const report = () => console.log("connected " + socket.id + " " + socket.recovered);
      if (socket.io.engine.transport.name === ${JSON.stringify(transports.at(-1))}) report();
      else socket.io.engine.once("upgrade", report);
    });
    socket.on("message", (m) => console.log("message " + m.text));
    socket.on("connect_error", (error) => console.error("connect_error: " + error.message));
  `;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  const lines = [];
  let rest = "";
  child.stdout.on("data", (d) => {
    const parts = (rest + d).split("\n");
    rest = parts.pop();
    lines.push(...parts);
  });
  await until(() => lines.length > 0, 15_000, `${name} to connect`);
  const id = lines[0].split(" ")[1];
  return { child, id, name, lines, connectedAt: Date.now() };
}

/** A socket of the demo's `room` on the WebSocket path, connected: it hears the room's presence. */
async function roomObserver(url, room) {
  const observer = io(`${url}/chat`, {
    forceNew: true,
    transports: ["websocket"],
    query: { partition: `room:${room}` },
    auth: { name: "observer", room },
  });
  await withTimeout(new Promise((resolve, reject) => observer.once("connect", resolve).once("connect_error", reject)), 10_000, "observer");
  return observer;
}

describe("dead peers announced once, through real evictions", () => {
  it("a member whose machine sleeps is announced as left once, not again by each instance that follows, and recovers what it missed when it wakes, on every path", { timeout: 300_000 }, async () => {
    // A short ping timeout; the observers' pings 25 s apart, the object evicted between them.
    const worker = await start({ vars: { ...VARS, PING_INTERVAL: "25000", PING_TIMEOUT: "5000" } });
    // A room per path, on one object: each sleeper joins after its room's observer, so no
    // broadcast reaches it before it sleeps (its reconnection has no offset to send).
    const candidates = Array.from({ length: 40 }, (_, i) => `sleepers-${i}`);
    const object = objectOfRoom(candidates[0]);
    const rooms = candidates.filter((room) => objectOfRoom(room) === object).slice(0, 3);
    const observers = [];
    const leaves = [];
    const sleepers = [];
    try {
      for (const [i, [path, { transports = ["polling", "websocket"] }]] of Object.entries(PATHS).entries()) {
        const observer = await roomObserver(worker.url, rooms[i]);
        observer.on("presence", (p) => p.event === "leave" && leaves.push(p.id));
        observers.push(observer);
        sleepers.push({ path, ...(await sleeperProcess(worker.url, rooms[i], `sleeper ${i}`, transports)) });
      }
      for (const s of sleepers) s.child.kill("SIGSTOP");
      // Closed by the heartbeat within pingInterval + pingTimeout (30 s) of the sleep.
      await until(() => sleepers.every((s) => leaves.includes(s.id)), 50_000, `every sleeper announced left (${leaves})`);
      const closedInstances = (await instances(worker.url, SHARDS))[object];
      // Then two more of the observers' pings.
      await sleep(55_000);
      const laterInstances = (await instances(worker.url, SHARDS))[object];
      assert.ok(laterInstances > closedInstances, `object ${object} was evicted after the sleepers were closed: instances ${closedInstances} -> ${laterInstances}`);
      for (const s of sleepers) {
        assert.equal(leaves.filter((id) => id === s.id).length, 1, `${s.path}: announced left once (leaves heard: ${leaves})`);
      }
      // Past the recovery window (2 min) of what the object logged when they joined, within that
      // of their disconnection: each room gets a message, then the sleepers wake.
      await sleep(Math.max(0, sleepers.at(-1).connectedAt + 125_000 - Date.now()));
      for (const [i, observer] of observers.entries()) {
        const answer = await withTimeout(observer.emitWithAck("message", `while you slept ${i}`), 10_000, `message to ${rooms[i]}`);
        assert.ok(answer.seq, `message to ${rooms[i]} stored: ${JSON.stringify(answer)}`);
      }
      for (const s of sleepers) s.child.kill("SIGCONT");
      const printed = () => sleepers.map((s) => `${s.path}: ${s.lines.join(", ")}`).join("; ");
      for (const [i, s] of sleepers.entries()) {
        await until(() => s.lines.includes(`message while you slept ${i}`), 30_000, `${s.path}: the message it missed`).catch((error) => {
          throw new Error(`${error.message} (the sleepers printed: ${printed()})`);
        });
      }
      await sleep(1_000); // a duplicate would come about as late
      for (const [i, s] of sleepers.entries()) {
        const missed = s.lines.filter((line) => line === `message while you slept ${i}`);
        assert.deepEqual(s.lines.filter((line) => line.startsWith("connected")), [`connected ${s.id} false`, `connected ${s.id} true`], `${s.path}: recovered`);
        assert.equal(missed.length, 1, `${s.path}: the message it missed, once (printed: ${s.lines})`);
      }
      assert.ok(observers.every((o) => o.connected), "the observers stay");
    } finally {
      for (const s of sleepers) s.child.kill("SIGKILL");
      for (const o of observers) o.close();
    }
  });
});
