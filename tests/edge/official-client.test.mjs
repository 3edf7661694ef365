// The edge worker (the `conformance` environment, as socketio.test.mjs describes it) driven
// by the official socket.io-client 4.8 in Node: bursts over the heartbeat, multiplexing,
// namespaces, middleware, rooms, acknowledgements, disconnection, async handlers and rate
// limits; and the WebSocket close handshake.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { io, Manager } from "socket.io-client";
import WebSocket from "ws";
import { startWorker, withTimeout } from "./harness.mjs";

let worker;

before(async () => {
  // WASMIO_EDGE_URL reuses a worker already running `wrangler dev --env conformance`.
  const url = process.env.WASMIO_EDGE_URL;
  worker = url ? { url, stop() {} } : await startWorker("conformance");
});
after(() => worker?.stop());

/** Every test fails after 15 s rather than hanging the file. */
const test = (name, fn) => it(name, { timeout: 15_000 }, fn);

/** Buffers, typed arrays and ArrayBuffers as plain Buffers, recursively. */
function normalize(value) {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

const clients = [];
function client(nsp = "/", opts = {}, base = worker.url) {
  const socket = io(`${base}${nsp}`, { forceNew: true, reconnection: false, ...opts });
  clients.push(socket);
  return socket;
}
function closeClients() {
  for (const socket of clients.splice(0)) {
    socket.disconnect();
    socket.io.engine?.close();
  }
}

/** The arguments of the next `event` on `emitter`; fails after `ms`. */
const once = (emitter, event, ms = 3000) =>
  withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `event ${event}`);

/** Resolves on `connect`, rejects on `connect_error`. */
function connected(socket) {
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }),
    5000,
    "connect",
  );
}

/** Records every `event` received by `socket`. */
function record(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args.length === 1 ? args[0] : args));
  return got;
}

describe("official socket.io-client 4.8.4", () => {
  afterEach(closeClients);

  for (const transports of [["polling"], ["websocket"]]) {
    test(`a burst longer than the heartbeat (300 ms / 200 ms) keeps its pings and loses nothing, over ${transports}`, async () => {
      // The worker reads the burst for longer than a ping interval: pings still go out on
      // time, and the client's messages count as signs of life while its pong waits behind them.
      const socket = client("/", { transports, reconnection: false });
      await connected(socket);
      const echoes = record(socket, "message-back");
      const reasons = record(socket, "disconnect");
      let pings = 0;
      socket.io.engine.on("packet", (packet) => (pings += packet.type === "ping"));
      const started = Date.now();
      // Over polling, socket.io-client sends all but the first in one POST: 4,999 packets.
      const N = 5000;
      for (let i = 0; i < N; i++) socket.emit("message", i);
      await withTimeout(
        (async () => {
          while (echoes.length < N && reasons.length === 0) await new Promise((r) => setTimeout(r, 20));
        })(),
        20_000,
        "the echoes",
      );
      assert.deepEqual(reasons, [], "the socket stayed connected");
      assert.deepEqual(echoes, Array.from({ length: N }, (_, i) => i), "every echo, in order");
      const elapsed = Date.now() - started;
      assert.ok(pings >= Math.floor(elapsed / 300) - 1, `${pings} pings in ${elapsed} ms`);
    });
  }

  for (const transports of [["polling"], ["websocket"]]) {
    test(`typed handlers take every argument, and bytes travel as binary both ways, over ${transports}`, async () => {
      const socket = client("/typed", { transports });
      await connected(socket);
      assert.deepEqual(await socket.timeout(2000).emitWithAck("move", 3, 4, "here"), { x: 3, y: 4, label: "here" });
      assert.deepEqual(await socket.timeout(2000).emitWithAck("move", 5, 6), { x: 5, y: 6, label: null }, "a missing argument is null");
      const refused = await socket.timeout(2000).emitWithAck("move", "three", 4);
      assert.match(refused.error, /invalid arguments/, "a wrong type answers the ack with an error");

      const file = once(socket, "file");
      const acked = new Promise((resolve) => socket.emit("upload", "a.bin", Buffer.from([1, 2, 3]), (...args) => resolve(args)));
      const [length, echoed] = await acked;
      assert.equal(length, 3);
      assert.ok(Buffer.isBuffer(echoed), `the bytes come back as binary, not ${JSON.stringify(echoed)}`);
      assert.deepEqual([...echoed], [1, 2, 3]);
      const [sent] = await file;
      assert.equal(sent.name, "a.bin");
      assert.ok(Buffer.isBuffer(sent.data), "a Bytes field of an emitted struct is an attachment");
      assert.deepEqual([...sent.data], [3, 2, 1]);

      const fromAsync = await new Promise((resolve) => socket.emit("upload-async", "b", Buffer.from([9]), (...a) => resolve(a)));
      assert.equal(fromAsync[0], 1);
      assert.deepEqual([...fromAsync[1]], [9]);

      // A tuple emitted is its elements, each an argument; () is no argument at all.
      const pair = once(socket, "pair");
      const answer = await new Promise((resolve) => socket.emit("pair", (...a) => resolve(a)));
      assert.deepEqual(answer, [], "socket.ack(&()) answers with no argument");
      assert.deepEqual(await pair, [1, "two"], "socket.emit(event, &(1, \"two\")) sends two arguments");
    });
  }

  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    test(`connects, echoes, acks and carries binary over ${transports.join(" then ")}`, async () => {
      const socket = client("/", { transports, auth: { user: "alice", n: 1 } });
      const auth = once(socket, "auth");
      await connected(socket);
      assert.deepEqual(await auth, [{ user: "alice", n: 1 }]);
      assert.equal(typeof socket.id, "string");
      assert.notEqual(socket.id, socket.io.engine.id);
      if (transports.length === 2 && socket.io.engine.transport.name !== "websocket") {
        await once(socket.io.engine, "upgrade");
      }
      assert.equal(socket.io.engine.transport.name, transports.at(-1));

      const args = ["text", 1, { deep: [null, true] }];
      socket.emit("message", ...args);
      assert.deepEqual(await once(socket, "message-back"), args);

      const binary = [Buffer.from([1, 2, 3]), { nested: { buf: Buffer.from([4, 5]) }, list: [Buffer.from([]), "s"] }];
      socket.emit("message", ...binary);
      assert.deepEqual(normalize(await once(socket, "message-back")), binary);

      assert.equal(await socket.timeout(2000).emitWithAck("message-with-ack", "acked"), "acked");
      const ackArgs = await new Promise((resolve) => socket.emit("message-with-ack", Buffer.from([7]), { b: Buffer.from([8, 9]) }, (...a) => resolve(a)));
      assert.deepEqual(normalize(ackArgs), [Buffer.from([7]), { b: Buffer.from([8, 9]) }]);
      socket.disconnect();
    });
  }

  for (const transports of [["websocket"], ["polling", "websocket"]]) {
    test(`a client without binary support (forceBase64) gets binary as base64 text frames over ${transports.join(" then ")}`, async () => {
      // socket.io-client's forceBase64 adds b64=1 to its requests; the reference server then
      // sends binary over WebSocket as `b<base64>` text frames, which such a client reads.
      const socket = client("/", { transports, forceBase64: true });
      await connected(socket);
      if (socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
      const frames = [];
      socket.io.engine.transport.ws.addEventListener("message", ({ data }) => frames.push(data));
      const binary = [Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) }];
      socket.emit("message", ...binary);
      assert.deepEqual(normalize(await once(socket, "message-back")), binary);
      const acked = await socket.timeout(2000).emitWithAck("message-with-ack", Buffer.from([5]));
      assert.deepEqual(normalize(acked), Buffer.from([5]));
      assert.ok(frames.includes("bAQID") && frames.includes("bBQ=="), `base64 frames: ${frames}`);
      assert.deepEqual(frames.filter((f) => typeof f !== "string"), [], "no binary frame");
      socket.disconnect();
    });
  }

  test("multiplexes / and /custom on one manager and one Engine.IO session", async () => {
    const manager = new Manager(worker.url, { reconnection: false, transports: ["websocket"] });
    const root = manager.socket("/", { auth: { who: "root" } });
    const custom = manager.socket("/custom", { auth: { who: "custom" } });
    clients.push(root, custom);
    const rootAuth = once(root, "auth");
    const customAuth = once(custom, "auth");
    await Promise.all([connected(root), connected(custom)]);
    assert.deepEqual(await rootAuth, [{ who: "root" }]);
    assert.deepEqual(await customAuth, [{ who: "custom" }]);
    assert.notEqual(root.id, custom.id);
    root.emit("message", "via root");
    assert.deepEqual(await once(root, "message-back"), ["via root"]);
    custom.disconnect();
    assert.equal(await root.timeout(2000).emitWithAck("message-with-ack", "root alive"), "root alive");
    root.disconnect();
  });

  test("creates dynamic namespaces that match the pattern and refuses the others", async () => {
    const socket = io(`${worker.url}/dynamic-42`, { forceNew: true, reconnection: false, auth: { n: 42 } });
    clients.push(socket);
    const [auth] = await once(socket, "auth");
    assert.deepEqual(auth, { n: 42 });
    socket.emit("message", 1, "two");
    assert.deepEqual(await once(socket, "message-back"), [{ nsp: "/dynamic-42", args: '[1,"two"]' }]);
    const other = io(`${worker.url}/dynamic-x`, { forceNew: true, reconnection: false });
    clients.push(other);
    const [error] = await once(other, "connect_error");
    assert.equal(error.message, "Invalid namespace");
  });

  test("reports an unknown namespace as connect_error Invalid namespace", async () => {
    const socket = client("/nope");
    const [err] = await once(socket, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    assert.equal(socket.connected, false);
  });

  test("reports a middleware refusal as connect_error with message and data, and accepts the right token", async () => {
    const refused = client("/auth", { auth: { token: "wrong" } });
    const [err] = await once(refused, "connect_error");
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { reason: "bad token", retry: false });
    assert.equal(refused.connected, false);

    const anonymous = client("/auth");
    const [err2] = await once(anonymous, "connect_error");
    assert.equal(err2.message, "not authorized");

    const accepted = client("/auth", { auth: { token: "secret" } });
    const auth = once(accepted, "auth");
    await connected(accepted);
    assert.deepEqual(await auth, [{ token: "secret" }]);
  });

  test("broadcasts to rooms: members only, the sender excluded from socket.to and included in io.to", async () => {
    const [a, b, c] = ["a", "b", "c"].map(() => client("/rooms", { transports: ["websocket"] }));
    await Promise.all([a, b, c].map(connected));
    const got = Object.fromEntries([["a", a], ["b", b], ["c", c]].map(([k, s]) => [k, record(s, "room-message")]));
    const broadcasts = Object.fromEntries([["a", a], ["b", b], ["c", c]].map(([k, s]) => [k, record(s, "broadcast-message")]));
    assert.equal(await a.emitWithAck("join", "r1"), "r1");
    assert.equal(await b.emitWithAck("join", "r1"), "r1");

    a.emit("to-room", "r1", "from a");
    await once(b, "room-message");
    a.emit("to-room-all", "r1", { all: true });
    await once(a, "room-message");
    c.emit("broadcast", "hello all");
    await once(a, "broadcast-message");
    await sleep(300);
    assert.deepEqual(got, { a: [{ all: true }], b: ["from a", { all: true }], c: [] });
    assert.deepEqual(broadcasts, { a: ["hello all"], b: ["hello all"], c: [] });

    assert.equal(await b.emitWithAck("leave", "r1"), "r1");
    a.emit("to-room-all", "r1", "after leave");
    await once(a, "room-message");
    await sleep(300);
    assert.deepEqual(got.b, ["from a", { all: true }]);
    assert.deepEqual(got.c, []);
  });

  test("a handler reading its argument as serde_json::Value relays it as sent: numbers exact, keys in order, half an emoji as U+FFFD", async () => {
    const [from, to] = [client("/rooms"), client("/rooms")];
    await Promise.all([from, to].map(connected));
    const got = record(to, "broadcast-message");
    // Doubles whose shortest form needs 16 or 17 digits: serde_json's default parse was one
    // unit off in the last place for about one in eight of these.
    const numbers = Array.from({ length: 400 }, (_, i) => ((i * 7919) % 1000) + Math.sin(i));
    numbers.push(0.1 + 0.2, 123456789012345680000, 5e-324, 1.7976931348623157e308);
    const ordered = { z: 1, a: { y: 2, b: 3 }, m: [{ k: 1, c: 2 }] };
    // "hi 😀".slice(0, 4): what a length limit in a chat box leaves of an emoji.
    const cut = "hi \u{1F600}".slice(0, 4);
    from.emit("broadcast", numbers);
    from.emit("broadcast", ordered);
    from.emit("broadcast", { text: cut, whole: "😀" });
    await withTimeout((async () => { while (got.length < 3) await sleep(20); })(), 5000, "three broadcasts");
    assert.deepEqual(got[0], numbers);
    assert.equal(JSON.stringify(got[1]), JSON.stringify(ordered));
    assert.deepEqual(got[2], { text: "hi \ufffd", whole: "😀" });
  });

  test("relays binary inside an argument as binary: socket.to, io.to, broadcast, over polling and WebSocket", async () => {
    const from = client("/rooms", { transports: ["polling"] });
    const to = client("/rooms", { transports: ["websocket"] });
    await Promise.all([from, to].map(connected));
    for (const socket of [from, to]) assert.equal(await socket.emitWithAck("join", "files"), "files");
    const file = { name: "a.bin", data: Buffer.from([1, 2, 3]), parts: [Buffer.from([4]), "text"] };
    const heard = once(to, "room-message");
    from.emit("to-room", "files", file, "an extra argument, not relayed");
    assert.deepEqual(normalize(await heard), [file]);
    const both = [once(from, "room-message"), once(to, "room-message")];
    from.emit("to-room-all", "files", Buffer.from([9]));
    assert.deepEqual(normalize(await Promise.all(both)), [[Buffer.from([9])], [Buffer.from([9])]]);
    const broadcast = once(from, "broadcast-message");
    to.emit("broadcast", file);
    assert.deepEqual(normalize(await broadcast), [file]);
  });

  test("answers a server emit with an acknowledgement (text and binary) and times out without one", async () => {
    const socket = client("/server-ack", { transports: ["websocket"] });
    await connected(socket);
    socket.on("question", (value, ack) => {
      if (value === "ignore") return;
      ack(value === "binary" ? Buffer.from([1, 2]) : { got: value }, "second");
    });
    socket.emit("ask", "hello");
    assert.deepEqual(await once(socket, "answer"), [{ got: "hello" }, "second"]);
    socket.emit("ask", "binary");
    assert.deepEqual(normalize(await once(socket, "answer")), [Buffer.from([1, 2]), "second"]);
    socket.emit("ask", { file: Buffer.from([5, 6]) });
    assert.deepEqual(normalize(await once(socket, "answer")), [{ got: { file: Buffer.from([5, 6]) } }, "second"]);
    const started = Date.now();
    socket.emit("ask", "ignore");
    await once(socket, "answer-timeout");
    assert.ok(Date.now() - started >= 900, `timed out after ${Date.now() - started} ms`);
  });

  test("disconnects the socket from the server: io server disconnect, the other namespace stays", async () => {
    const manager = new Manager(worker.url, { reconnection: false, transports: ["websocket"] });
    const root = manager.socket("/");
    const kicked = manager.socket("/server-disconnect");
    clients.push(root, kicked);
    await Promise.all([connected(root), connected(kicked)]);
    kicked.emit("kick");
    assert.deepEqual(await once(kicked, "disconnect"), ["io server disconnect", undefined]);
    assert.equal(kicked.connected, false);
    root.emit("message", "still here");
    assert.deepEqual(await once(root, "message-back"), ["still here"]);
    root.disconnect();
  });

  for (const transport of ["polling", "websocket"]) {
    test(`closes the whole session from the server over ${transport}: every socket sees io server disconnect`, async () => {
      const manager = new Manager(worker.url, { reconnection: false, transports: [transport] });
      const root = manager.socket("/");
      const closing = manager.socket("/server-disconnect");
      clients.push(root, closing);
      await Promise.all([connected(root), connected(closing)]);
      const rootGone = once(root, "disconnect");
      closing.emit("close");
      assert.equal((await once(closing, "disconnect"))[0], "io server disconnect");
      assert.equal((await rootGone)[0], "io server disconnect");
    });
  }

  test('a handler written as socket.io\'s socket.on("disconnect") runs with the reason, and still reads socket.data', async () => {
    const stays = client("/server-disconnect", { transports: ["websocket"] });
    const leaves = client("/server-disconnect", { transports: ["polling"] });
    await Promise.all([connected(stays), connected(leaves)]);
    assert.deepEqual(await withTimeout(leaves.emitWithAck("name", "ana"), 3000, "the name's ack"), "ana");
    const left = once(stays, "left");
    leaves.disconnect();
    assert.deepEqual(await left, ["ana", "client namespace disconnect"]);
    // A packet for a namespace never joined (socket.io's "invalid state") closes the connection:
    // its socket reads "forced close", as socket.io's do.
    const offender = client("/server-disconnect", { transports: ["websocket"] });
    await connected(offender);
    assert.equal(await withTimeout(offender.emitWithAck("name", "eve"), 3000, "the name's ack"), "eve");
    const broken = once(stays, "left");
    offender.io.engine.write('2/never-joined,["x"]');
    assert.deepEqual(await broken, ["eve", "forced close"]);
    const kicked = once(stays, "left");
    stays.emit("kick");
    assert.deepEqual(await kicked.catch(() => "no left event"), "no left event", "a socket hears no event once gone");
  });

  for (const [how, leave] of [
    ["closes its connection", (socket) => socket.io.engine.close()],
    ["disconnects", (socket) => socket.disconnect()],
  ]) {
    test(`a disconnecting handler sees the rooms and data of a socket that ${how}`, async () => {
      const stays = client("/rooms", { transports: ["websocket"] });
      const goes = client("/rooms", { transports: ["polling"] });
      await Promise.all([connected(stays), connected(goes)]);
      for (const socket of [stays, goes]) {
        assert.equal(await socket.timeout(2000).emitWithAck("join", "lobby"), "lobby");
      }
      assert.equal(await goes.timeout(2000).emitWithAck("join", "games"), "games");
      assert.equal(await goes.timeout(2000).emitWithAck("set-name", "bob"), "bob");
      const left = record(stays, "left");
      const first = once(stays, "left");
      leave(goes);
      await first;
      await sleep(200); // and nothing more
      const reason = how === "disconnects" ? "client namespace disconnect" : "transport close";
      assert.deepEqual(left, [{ room: "lobby", name: "bob", reason }], "only the room they share, with the name");
    });
  }

  for (const transports of [["polling"], ["websocket"]]) {
    test(`connect middlewares read the handshake's Cookie and Authorization over ${transports}`, async () => {
      for (const extraHeaders of [{ Cookie: "theme=dark; session=abc" }, { Authorization: "Bearer t0ken" }]) {
        await connected(client("/credentials", { transports, extraHeaders }));
      }
      const refused = client("/credentials", { transports, extraHeaders: { Cookie: "session=other" } });
      const error = await once(refused, "connect_error");
      assert.equal(error[0].message, "no credentials");
    });
  }

  test("async handlers and connection middlewares await the Worker's KV and the object's storage", async () => {
    const writer = client("/async", { transports: ["websocket"] });
    const reader = client("/async", { transports: ["polling"] });
    await Promise.all([connected(writer), connected(reader)]);
    assert.equal(await writer.timeout(3000).emitWithAck("remember", "milk"), "kept");
    assert.equal(await reader.timeout(3000).emitWithAck("recall", writer.id), "milk", "KV is shared");
    assert.equal(await reader.timeout(3000).emitWithAck("recall", "nobody"), null);
    const first = await writer.timeout(3000).emitWithAck("count", null);
    assert.equal(await reader.timeout(3000).emitWithAck("count", null), first + 1, "storage counts on");
    // An async connection middleware: the token must name a note in KV.
    for (const transports of [["polling"], ["websocket"]]) {
      const member = client("/kv-auth", { transports, auth: { token: writer.id } });
      assert.deepEqual(await once(member, "welcome"), ["milk"], "its data came from KV");
      const stranger = client("/kv-auth", { transports, auth: { token: "nobody" } });
      assert.equal((await once(stranger, "connect_error"))[0].message, "not authorized");
    }
    // An async disconnect handler wrote why a socket left, after its socket.data if it had some.
    const leaver = client("/async", { transports: ["websocket"] });
    const named = client("/async", { transports: ["polling"] });
    await Promise.all([connected(leaver), connected(named)]);
    assert.equal(await named.timeout(3000).emitWithAck("name", "bo"), "bo");
    const [leaverId, namedId] = [leaver.id, named.id];
    leaver.disconnect();
    named.disconnect();
    await sleep(500);
    assert.equal(await reader.timeout(3000).emitWithAck("recall", `left:${leaverId}`), "client namespace disconnect");
    assert.equal(await reader.timeout(3000).emitWithAck("recall", `left:${namedId}`), "bo: client namespace disconnect");
    const refused = await writer.timeout(3000).emitWithAck("recall", { not: "a string" });
    assert.match(refused.error, /^invalid argument/, "an error answers the ack");
    assert.ok(writer.connected && reader.connected);
  });

  test("drops events over the rate limit, answers their awaited acks with an error, and keeps the socket", async () => {
    const socket = client("/limited", { transports: ["websocket"] });
    await connected(socket);
    const pongs = record(socket, "pong");
    const disconnects = record(socket, "disconnect");
    for (let i = 0; i < 8; i++) socket.emit("ping", i);
    await sleep(500);
    assert.deepEqual(pongs, [0, 1, 2]);
    // An awaited ack of an event over the limit is answered at once with why.
    assert.deepEqual(await socket.timeout(1000).emitWithAck("ping", "acked"), { error: "rate limit exceeded" });
    assert.deepEqual(pongs, [0, 1, 2]);
    // 0.5 token per second: one more event passes two seconds later
    await sleep(2000);
    assert.deepEqual(disconnects, []);
    socket.emit("ping", "later");
    await once(socket, "pong");
    assert.deepEqual(pongs, [0, 1, 2, "later"]);
  });

  test("disconnects a socket over the rate limit when the limit says so", async () => {
    const socket = client("/limited-strict", { transports: ["websocket"] });
    await connected(socket);
    const pongs = record(socket, "pong");
    const gone = once(socket, "disconnect");
    for (let i = 0; i < 5; i++) socket.emit("ping", i);
    assert.equal((await gone)[0], "io server disconnect");
    assert.deepEqual(pongs, [0, 1, 2]);
  });
});

// Megabytes over long-polling take longer than the conformance worker's 300 ms / 200 ms
// heartbeat allows (a ping waits in the queue behind them): these run with socket.io's own.
describe("official socket.io-client 4.8.4, with socket.io's timings (25 s / 20 s)", () => {
  let timed;
  before(async () => {
    timed = await startWorker("conformance", { vars: { PING_INTERVAL: "25000", PING_TIMEOUT: "20000" } });
  });
  after(() => timed?.stop());
  afterEach(closeClients);

  test("a loop of 12,000 emits over polling (one POST body of 11,999 packets) is handled whole", async () => {
    const socket = client("/", { transports: ["polling"] }, timed.url);
    await connected(socket);
    const back = record(socket, "message-back");
    const disconnects = record(socket, "disconnect");
    for (let i = 0; i < 12_000; i++) socket.emit("message", i);
    const deadline = Date.now() + 30_000;
    while (back.length < 12_000 && disconnects.length === 0 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(disconnects, []);
    assert.equal(back.length, 12_000);
    assert.deepEqual([back[0], back.at(-1)], [0, 11_999]);
  });

  test("a polling client gets a burst of large broadcasts bigger than the queue bound (4 MB) between two of its polls, losing nothing", async () => {
    const [from, to] = [client("/rooms", { transports: ["websocket"] }, timed.url), client("/rooms", { transports: ["polling"] }, timed.url)];
    await Promise.all([from, to].map(connected));
    const got = record(to, "broadcast-message");
    const disconnects = record(to, "disconnect");
    // 12 messages of 500 KB, written faster than a poll's round trip: the queue holds more than
    // 4 MB for a while (it used to end the session with a transport error, all of it lost).
    for (let i = 0; i < 12; i++) from.emit("broadcast", `${i}:${"x".repeat(500_000)}`);
    const deadline = Date.now() + 30_000;
    while (got.length < 12 && disconnects.length === 0 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(disconnects, []);
    assert.deepEqual(got.map((m) => m.split(":")[0]), [...Array(12).keys()].map(String));
    assert.ok(got.every((m) => m.length === 500_000 + m.indexOf(":") + 1));
  });

});

describe("WebSocket close handshake", () => {
  it("answers the client's close frame at once", async () => {
    const ws = new WebSocket(`${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    ws.on("error", () => {});
    await new Promise((resolve) => ws.once("message", resolve)); // the open packet
    const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
    const started = Date.now();
    ws.close(1000);
    assert.equal(await closed, 1000);
    assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
  });
});
