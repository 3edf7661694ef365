// Hibernation of the Socket.IO object under real workerd (conformance deployment):
// - after the object drops all its memory (test hook `__forget`, what an eviction does),
//   a new state built from the WebSocket attachments and storage alone continues every
//   session: events, acks, server emits, binary, heartbeats;
// - pongs are answered by workerd's auto-response and do not wake the object.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWorker } from "./harness.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
let worker;

before(async () => {
  // The conformance env answers pongs strictly; hibernation is the default deployments' mode.
  worker = await startWorker("conformance", { vars: { HEARTBEAT: "hibernate" } });
});
after(() => worker?.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hook = async (name) => (await fetch(`${worker.url}/socket.io/${name}`)).text();
const stats = async () => JSON.parse(await hook("__stats"));

function connect(nsp = "/", opts = {}) {
  const socket = io(`${worker.url}${nsp}`, { transports: ["websocket"], forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
}

const once = (socket, event) => new Promise((resolve) => socket.once(event, (...args) => resolve(args)));

describe("hibernation", () => {
  it("an acknowledgement answered after the object forgot its memory reaches its handler", async () => {
    const socket = await connect("/server-ack");
    const question = once(socket, "question");
    socket.emit("ask", "across");
    const [value, ack] = await question;
    assert.equal(await hook("__forget"), "forgotten");
    const answer = once(socket, "answer");
    ack({ got: value });
    assert.deepEqual(await Promise.race([answer, sleep(3000).then(() => "no answer")]), [{ got: "across" }]);
    socket.close();
  });

  it("continues every session from the stored state alone", async () => {
    const a = await connect("/", { auth: { user: "a" } });
    const b = await connect("/custom", { auth: { user: "b" } });
    // A 3 KB custom header takes its session's snapshot past the 2 KB attachment, to storage.
    const headers = { "x-small": "s", "x-large": "l".repeat(3000) };
    const c = await connect("/cluster", { extraHeaders: headers });
    const disconnects = [];
    for (const s of [a, b, c]) s.on("disconnect", (reason) => disconnects.push(reason));
    const idBefore = a.id;

    assert.equal(await hook("__forget"), "forgotten");

    // events and server emits
    a.emit("message", "after", { n: 1 });
    assert.deepEqual(await once(a, "message-back"), ["after", { n: 1 }]);
    // acks
    const acked = await new Promise((resolve) => a.timeout(2000).emit("message-with-ack", 7, "x", (err, ...args) => resolve([err, ...args])));
    assert.deepEqual(acked, [null, 7, "x"]);
    // binary
    a.emit("message", Buffer.from([1, 2, 3]));
    const [bytes] = await once(a, "message-back");
    assert.deepEqual([...new Uint8Array(bytes)], [1, 2, 3]);
    // same socket, same session
    assert.equal(a.id, idBefore);
    // handshake.headers read back
    const [fetched] = await c.timeout(3000).emitWithAck("fetch", {});
    assert.deepEqual([fetched.headers["x-small"], fetched.headers["x-large"]], [headers["x-small"], headers["x-large"]]);

    // forget again, then let heartbeats run: the sessions stay open
    await hook("__forget");
    await sleep(4 * PING_INTERVAL);
    assert.equal(a.connected, true);
    assert.equal(b.connected, true);
    assert.deepEqual(disconnects, []);
    a.emit("message", "still");
    assert.deepEqual(await once(a, "message-back"), ["still"]);
    for (const s of [a, b, c]) s.disconnect();
  });

  it("an event with several large attachments arrives whole, and its upload is not reported as a session lost to hibernation", async () => {
    const socket = await connect();
    const files = [Buffer.alloc(4000, 1), Buffer.alloc(3000, 2)];
    const logBefore = worker.log().length;
    socket.emit("message", "files", ...files);
    const [text, ...got] = await once(socket, "message-back");
    assert.equal(text, "files");
    assert.deepEqual(got.map((b) => [b.length, b[0]]), [[4000, 1], [3000, 2]]);
    await sleep(300);
    const logged = worker.log().slice(logBefore);
    assert.doesNotMatch(logged, /will not survive|ERROR/, "the server logged no error for an ordinary upload");
    socket.close();
  });

  it("a client without binary support still gets binary as base64 text after the object forgot its memory", async () => {
    const socket = await connect("/", { forceBase64: true });
    const frames = [];
    socket.io.engine.transport.ws.addEventListener("message", ({ data }) => frames.push(data));
    assert.equal(await hook("__forget"), "forgotten");
    socket.emit("message", Buffer.from([1, 2, 3]));
    const [bytes] = await once(socket, "message-back");
    assert.deepEqual([...new Uint8Array(bytes)], [1, 2, 3]);
    assert.ok(frames.includes("bAQID"), `frames: ${frames}`);
    assert.deepEqual(frames.filter((f) => typeof f !== "string"), [], "no binary frame");
    socket.disconnect();
  });

  it("a client that stops answering pings is still timed out after a wake-up", async () => {
    const a = await connect("/");
    await hook("__forget");
    // silence the client's engine: it no longer answers pings
    a.io.engine.transport.ws.send = () => {};
    a.io.engine.write = () => {};
    const [reason] = await once(a, "disconnect");
    // the server closed the WebSocket after its ping timeout
    assert.equal(reason, "transport close");
  });

  it("pongs do not wake the object, and one alarm per pong deadline serves every socket", async () => {
    const a = await connect("/");
    await sleep(PING_INTERVAL / 2);
    const b = await connect("/"); // out of phase with a at first
    const pings = { a: 0, b: 0 };
    const reasons = [];
    a.io.on("ping", () => pings.a++);
    b.io.on("ping", () => pings.b++);
    for (const s of [a, b]) s.on("disconnect", (reason) => reasons.push(reason));
    await sleep(2 * PING_INTERVAL); // the heartbeats align
    const before = await stats();
    await sleep(10 * PING_INTERVAL);
    const after = await stats();
    assert.deepEqual(reasons, [], "both sockets stayed connected");
    assert.equal(after.websocketMessages - before.websocketMessages, 0, "no pong reached the object");
    const alarms = after.alarms - before.alarms;
    assert.ok(pings.a >= 9 && pings.b >= 9, `both clients were pinged (${pings.a}, ${pings.b})`);
    // The alarm fires at each round's pong deadline (pingTimeout after the pings) and sends
    // the next round's pings early: one alarm per pingTimeout, 15 in 10 intervals of 300 ms,
    // whatever the number of sockets.
    const cycles = (10 * PING_INTERVAL) / PING_TIMEOUT;
    assert.ok(alarms <= cycles + 2, `${alarms} alarms for 10 intervals and 2 sockets`);
    a.disconnect();
    b.disconnect();
  });
});
