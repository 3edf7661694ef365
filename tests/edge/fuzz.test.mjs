// Random and mutated Engine.IO / Socket.IO frames against real workerd (the conformance
// deployment in both heartbeat modes, and the chat deployment: hibernation, connection state
// recovery, rate limits, handlers awaiting storage), over WebSocket and over long-polling, from
// a fixed seed: valid frames of every packet type to every namespace and event of the
// deployment's application, some cut short or with characters inserted, replaced or removed,
// and binary frames. Whatever arrives, the server answers as the reference does (a 400, a CONNECT_ERROR,
// a close with a reason) and nobody else pays for it:
// - a witness session on the same object keeps echoing, and the object is never reset;
// - no request is answered with a 5xx;
// - every WebSocket the server closes gets a close frame whose reason is one of socket.io's
//   (`parse error`, `forced close`, `transport close`, `transport error`, `ping timeout`);
// - workerd logs no panic and no uncaught error.
// The frames and the offenders' timing are the same at each run; what the server does with
// them (and so which reasons close which connections) is asserted as a whole.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startWorker, watchCloseFrame } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const REASONS = ["parse error", "forced close", "transport close", "transport error", "ping timeout"];
/** The deployments offended, each with its namespaces and events and how its witness echoes. */
const TARGETS = [
  ...["strict", "hibernate"].map((heartbeat) => ({
    name: `the conformance deployment with HEARTBEAT=${heartbeat}`,
    env: "conformance",
    vars: { HEARTBEAT: heartbeat },
    namespaces: ["", "/rooms,", "/custom,", "/auth,", "/server-ack,", "/server-disconnect,", "/typed,", "/async,",
      "/limited,", "/limited-strict,", "/cluster,", "/dynamic-7,", "/dynamic-x,", "/nope,", "/credentials,", "/kv-auth,"],
    // `divide` is left out: it is the conformance application's deliberate panic (panic.test.mjs).
    events: ["message", "message-with-ack", "join", "leave", "to-room", "to-room-all", "broadcast", "set-name",
      "ask", "ask-later", "kick", "close", "name", "ping", "enqueue", "fetch", "join-all", "leave-all",
      "disconnect-all", "poll", "census", "connect", "disconnect", "__proto__", "constructor", ""],
    echo: (witness, tag) => {
      const back = new Promise((resolve) => witness.once("message-back", resolve));
      witness.emit("message", tag);
      return back;
    },
  })),
  {
    name: "the chat deployment",
    env: "chat",
    vars: { TEST_HOOKS: "1", MAX_HANDSHAKES_PER_MINUTE: "0" },
    namespaces: ["", "/chat,", "/board,", "/nope,"],
    events: ["chat message", "sync", "message", "typing", "latency", "draw", "clear", "connect", "disconnecting",
      "__proto__", ""],
    echo: (witness, tag) => {
      const back = new Promise((resolve) => {
        const mine = (message) => message?.text === tag && (witness.off("chat message", mine), resolve(tag));
        witness.on("chat message", mine);
      });
      witness.emit("chat message", tag);
      return back;
    },
  },
];
const VALUES = ["1", "-0", "1e999", "null", "true", '"r"', "{}", "[]", '{"a":[1,{"b":null}]}',
  '{"_placeholder":true,"num":0}', '{"_placeholder":true,"num":5}', '{"_placeholder":true}', '"\\ud800"', '"é"',
  "123456789012345678901234567890", '{"room":"r","event":"e","value":1}', '{"__proto__":1}'];
const AUTHS = ["", '{"token":"secret"}', '{"name":"a","room":"lobby"}', '{"pid":"x","offset":"y"}', "[]", "1", '{"token":1}'];

/** A deterministic pseudo-random source (a linear congruential generator). */
function random(seed) {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (list) => list[Math.floor(next() * list.length)];
  return { next, pick };
}

/** One text frame for `target`: a packet of any type, often a Socket.IO one, sometimes mutated. */
function textFrame({ next, pick }, target) {
  const engineType = pick(["0", "1", "2", "3", "4", "5", "6", "", "9", "4", "4", "4"]);
  let frame;
  if (engineType !== "4") frame = engineType + (next() < 0.3 ? pick(["probe", "x", ""]) : "");
  else {
    const type = pick(["0", "1", "2", "3", "4", "5", "6", "2", "2", "7", ""]);
    frame = "4" + type + (type === "5" || type === "6" ? pick(["1", "2", "0", "99", "-1", ""]) + "-" : "");
    frame += pick(target.namespaces) + (next() < 0.4 ? pick(["1", "0", "42", "9007199254740993", "00", "-3"]) : "");
    if (type === "0") frame += pick(AUTHS);
    else if (type === "4") frame += pick(['{"message":"x"}', "", "[]"]);
    else if (type !== "1") {
      const args = Array.from({ length: Math.floor(next() * 4) }, () => pick(VALUES));
      frame += "[" + (type === "3" || type === "6" ? args : [JSON.stringify(pick(target.events)), ...args]).join(",") + "]";
    }
  }
  if (next() < 0.7) return frame;
  for (let edits = Math.ceil(next() * 3); edits > 0; edits--) {
    const at = Math.floor(next() * (frame.length + 1));
    const char = pick(["[", "]", "{", "}", '"', ",", "-", "/", "\\", "\u0000", "é", "\ud83d", "9", "e", " ", ":"]);
    const edit = next();
    if (edit < 0.3) frame = frame.slice(0, at) + char + frame.slice(at);
    else if (edit < 0.6) frame = frame.slice(0, at) + frame.slice(at + 1);
    else if (edit < 0.8) frame = frame.slice(0, at);
    else frame = frame.slice(0, at) + char + frame.slice(at + 1);
  }
  return frame;
}

for (const target of TARGETS) {
  describe(`random frames to ${target.name}`, () => {
    let worker;
    let base;
    let witness;
    const instances = async () => JSON.parse(await (await fetch(`${base}__stats`)).text()).instances;
    before(async () => {
      worker = await startWorker(target.env, { vars: target.vars });
      base = `${worker.url}/socket.io/`;
      witness = io(worker.url, { transports: ["websocket"], forceNew: true, reconnection: false });
      await new Promise((resolve, reject) => witness.once("connect", resolve).once("connect_error", reject));
    });
    after(async () => {
      witness?.close();
      await worker?.stop();
    });

    /** WebSocket offenders: `connections` one after another, 40 frames each. */
    async function webSockets(rng, connections, closes) {
      for (let c = 0; c < connections; c++) {
        const ws = new WebSocket(`${base}?EIO=4&transport=websocket`);
        let closedByUs = false;
        watchCloseFrame(ws, (code, reason) => closedByUs || closes.push({ code, reason }));
        ws.on("error", () => {});
        await new Promise((resolve) => ws.once("open", resolve).once("error", resolve));
        assert.equal(ws.readyState, WebSocket.OPEN, "the WebSocket opened");
        for (let i = 0; i < 40 && ws.readyState === WebSocket.OPEN; i++) {
          if (rng.next() < 0.08) ws.send(Buffer.from(rng.pick(["", "x", "\u0000\u0001", "4hello"])));
          else ws.send(textFrame(rng, target));
          if (rng.next() < 0.2) await sleep(2);
        }
        await sleep(20);
        if (ws.readyState === WebSocket.OPEN) {
          closedByUs = true;
          ws.close(1000);
        }
        // The close handshake done, workerd may keep the TCP connection open: it is ended here.
        await Promise.race([new Promise((resolve) => ws.once("close", resolve)), sleep(200)]);
        ws.terminate();
      }
    }

    /** Polling offenders: `sessions` handshakes, up to 10 POSTs of 1-4 packets each. */
    async function polling(rng, sessions, statuses) {
      for (let s = 0; s < sessions; s++) {
        const { sid } = JSON.parse((await (await fetch(`${base}?EIO=4&transport=polling`)).text()).slice(1));
        const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
        const held = fetch(url).then((res) => statuses.push(res.status) && res.text());
        for (let i = 0; i < 10; i++) {
          const packets = Array.from({ length: 1 + Math.floor(rng.next() * 4) }, () => textFrame(rng, target));
          const res = await fetch(url, { method: "POST", body: packets.join(rng.next() < 0.9 ? "\x1e" : "\x1f") });
          statuses.push(res.status);
          await res.text();
          if (res.status !== 200) break;
        }
        await Promise.race([held, sleep(100)]);
      }
    }

    it("gets each offender answered as the reference would, and nobody else pays for it", async () => {
      const before = await instances();
      const closes = [];
      const statuses = [];
      await Promise.all([webSockets(random(1), 12, closes), webSockets(random(2), 12, closes), polling(random(3), 6, statuses)]);
      const back = target.echo(witness, "after the offenders");
      assert.equal(await Promise.race([back, sleep(10_000).then(() => "no answer")]), "after the offenders");
      assert.equal(await instances(), before, "the object was never reset");
      assert.deepEqual(statuses.filter((status) => status >= 500), [], "no request answered 5xx");
      assert.ok(closes.length > 0, "the server closed some of the offenders");
      for (const { code, reason } of closes) assert.ok(code === 1000 && REASONS.includes(reason), `closed with ${code} "${reason}"`);
      const log = worker.log().split("\n");
      assert.deepEqual(log.filter((line) => /panicked|Uncaught/.test(line)), [], "workerd logged no panic or uncaught error");
    });
  });
}
