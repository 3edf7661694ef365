// Engine.IO v4 conformance of the edge worker (the `conformance` environment: an echo server
// at /engine.io/, pingInterval 300, pingTimeout 200, maxPayload 1e6, CORS *), driven with raw
// HTTP requests and WebSocket frames, then with the official engine.io-client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import WebSocket from "ws";
import { Agent, request } from "node:http";
import { startWorker } from "./harness.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
let worker;
let base;
let wsBase;

before(async () => {
  worker = await startWorker("conformance");
  base = `${worker.url}/engine.io/`;
  wsBase = base.replace("http", "ws");
});
after(() => worker?.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handshake() {
  const res = await fetch(`${base}?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], "0");
  return JSON.parse(body.slice(1));
}

const poll = (sid, init) => fetch(`${base}?EIO=4&transport=polling&sid=${sid}`, init);
const post = (sid, body) => poll(sid, { method: "POST", body });

/** A WebSocket that queues every message, so none is missed between awaits. */
function openWs(url) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const queue = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    const msg = isBinary ? new Uint8Array(data) : data.toString();
    const waiter = waiters.shift();
    waiter ? waiter(msg) : queue.push(msg);
  });
  ws.on("error", () => {});
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  const opened = new Promise((resolve, reject) => {
    ws.on("open", resolve);
    ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error("refused"), { status: res.statusCode })));
  });
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
  return { ws, opened, closed, next };
}

describe("handshake", () => {
  it("opens a polling session with the configured parameters", async () => {
    const open = await handshake();
    assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.equal(typeof open.sid, "string");
    assert.deepEqual(open.upgrades, ["websocket"]);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, 1000000);
  });

  it("opens a WebSocket session with no upgrades", async () => {
    const s = openWs(`${wsBase}?EIO=4&transport=websocket`);
    const first = await s.next();
    assert.equal(first[0], "0");
    const open = JSON.parse(first.slice(1));
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, PING_INTERVAL);
    s.ws.close();
  });

  it("refuses a bad EIO, a bad transport, a bad method, an unknown sid with the reference errors", async () => {
    const cases = [
      [`${base}?transport=polling`, "GET", 5, "Unsupported protocol version"],
      [`${base}?EIO=abc&transport=polling`, "GET", 5, "Unsupported protocol version"],
      [`${base}?EIO=4`, "GET", 0, "Transport unknown"],
      [`${base}?EIO=4&transport=abc`, "GET", 0, "Transport unknown"],
      [`${base}?EIO=4&transport=polling`, "POST", 2, "Bad handshake method"],
      [`${base}?EIO=4&transport=polling`, "PUT", 2, "Bad handshake method"],
      [`${base}?EIO=4&transport=websocket`, "GET", 3, "Bad request"],
      [`${base}?EIO=4&transport=polling&sid=0-doesnotexist`, "GET", 1, "Session ID unknown"],
      [`${base}?EIO=4&transport=polling&sid=garbage`, "GET", 1, "Session ID unknown"],
    ];
    for (const [url, method, code, message] of cases) {
      const res = await fetch(url, { method });
      assert.equal(res.status, 400, `${method} ${url}`);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(await res.json(), { code, message }, `${method} ${url}`);
    }
  });

  it("refuses WebSocket handshakes with a bad EIO or transport", async () => {
    for (const url of [`${wsBase}?transport=websocket`, `${wsBase}?EIO=abc&transport=websocket`, `${wsBase}?EIO=4&transport=abc`]) {
      const s = openWs(url);
      await assert.rejects(s.opened, (e) => e.status === 400, url);
    }
  });

  it("answers CORS preflights and sets CORS headers", async () => {
    const res = await fetch(`${base}?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: { Origin: "https://example.test", "Access-Control-Request-Headers": "content-type" },
    });
    assert.equal(res.status, 204);
    // CORS_ORIGINS="*" (this env) is socket.io's `cors: { origin: "*" }`: no credentials.
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
    assert.equal(res.headers.get("access-control-allow-headers"), "content-type");
    assert.equal(res.headers.get("vary"), "Access-Control-Request-Headers");
    const get = await fetch(`${base}?EIO=4&transport=polling`, { headers: { Origin: "https://example.test" } });
    assert.equal(get.headers.get("access-control-allow-origin"), "*");
  });
});

describe("messages over polling", () => {
  it("echoes one text packet", async () => {
    const { sid } = await handshake();
    const res = await post(sid, "4hello");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    const answer = await poll(sid);
    assert.equal(await answer.text(), "4hello");
    // As the reference: no proxy may keep a poll's answer (or a POST's) to serve it again.
    assert.equal(answer.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  it("echoes several text packets in one payload", async () => {
    const { sid } = await handshake();
    await post(sid, "4test1\x1e4test2\x1e4test3");
    assert.equal(await (await poll(sid)).text(), "4test1\x1e4test2\x1e4test3");
  });

  it("echoes text and base64 binary packets", async () => {
    const { sid } = await handshake();
    await post(sid, "4hello\x1ebAQIDBA==");
    assert.equal(await (await poll(sid)).text(), "4hello\x1ebAQIDBA==");
  });

  it("holds a poll until there is something to send", async () => {
    const { sid } = await handshake();
    const held = poll(sid);
    await sleep(50);
    await post(sid, "4late");
    assert.equal(await (await held).text(), "4late");
  });

  it("closes the session upon an invalid packet", async () => {
    const { sid } = await handshake();
    const res = await post(sid, "abc");
    assert.equal(res.status, 400);
    assert.equal((await poll(sid)).status, 400);
  });

  it("closes the session upon duplicate poll requests, answering the first with a close packet", async () => {
    const { sid } = await handshake();
    const first = poll(sid);
    await sleep(50);
    const second = await poll(sid);
    assert.equal(second.status, 400);
    const res = await first;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "1");
    assert.equal((await poll(sid)).status, 400);
  });

  it("refuses a payload over maxPayload with 413 and keeps the session", async () => {
    const { sid } = await handshake();
    const res = await post(sid, "4" + "x".repeat(1_000_000));
    assert.equal(res.status, 413);
    await post(sid, "4still");
    assert.equal(await (await poll(sid)).text(), "4still");
  });

  it("answers a POST to a closed session without breaking the connection it came on", async () => {
    // one keep-alive connection carries every request
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method, url, body) =>
      new Promise((resolve, reject) => {
        const req = request(url, { method, agent }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve([res.statusCode, text]));
        });
        req.on("error", reject);
        req.end(body);
      });
    const a = await handshake();
    const b = await handshake();
    const url = (sid) => `${base}?EIO=4&transport=polling&sid=${sid}`;
    assert.deepEqual(await send("POST", url(a.sid), "1"), [200, "ok"]);
    const [status, body] = await send("POST", url(a.sid), "4after close");
    assert.equal(status, 400);
    assert.deepEqual(JSON.parse(body), { code: 1, message: "Session ID unknown" });
    assert.deepEqual(await send("POST", url(b.sid), "4still fine"), [200, "ok"]);
    assert.deepEqual(await send("GET", url(b.sid)), [200, "4still fine"]);
    agent.destroy();
  });

  it("keeps other sessions working when one misbehaves", async () => {
    const good = await handshake();
    const bad = await handshake();
    await post(bad.sid, "zzz");
    await post(good.sid, "4fine");
    assert.equal(await (await poll(good.sid)).text(), "4fine");
  });
});

describe("messages over WebSocket", () => {
  it("echoes a text and a binary packet", async () => {
    const s = openWs(`${wsBase}?EIO=4&transport=websocket`);
    await s.next(); // open
    s.ws.send("4hello");
    assert.equal(await s.next(), "4hello");
    s.ws.send(Uint8Array.from([1, 2, 3, 4]));
    assert.deepEqual(await s.next(), Uint8Array.from([1, 2, 3, 4]));
    s.ws.close();
  });

  it("closes the session upon an invalid packet", async () => {
    const s = openWs(`${wsBase}?EIO=4&transport=websocket`);
    await s.next();
    s.ws.send("abc");
    await s.closed;
  });

  it("closes the session when the client sends a close packet", async () => {
    const s = openWs(`${wsBase}?EIO=4&transport=websocket`);
    await s.next();
    s.ws.send("1");
    await s.closed;
  });
});

describe("heartbeat", () => {
  it("pings over polling and accepts pongs", async () => {
    const { sid } = await handshake();
    for (let i = 0; i < 3; i++) {
      const res = await poll(sid);
      assert.equal(await res.text(), "2");
      assert.equal(await (await post(sid, "3")).text(), "ok");
    }
  });

  it("closes a polling session upon ping timeout", async () => {
    const { sid } = await handshake();
    await sleep(PING_INTERVAL + PING_TIMEOUT + 200);
    assert.equal((await post(sid, "3")).status, 400);
  });

  it("pings over WebSocket and closes upon ping timeout", async () => {
    const s = openWs(`${wsBase}?EIO=4&transport=websocket`);
    await s.next();
    const started = Date.now();
    assert.equal(await s.next(), "2");
    const pingedAfter = Date.now() - started;
    assert.ok(pingedAfter >= PING_INTERVAL - 50, `pinged after ${pingedAfter} ms`);
    s.ws.send("3");
    assert.equal(await s.next(), "2");
    // no pong this time: the server closes the WebSocket
    await s.closed;
  });
});

describe("upgrade", () => {
  it("upgrades from polling to WebSocket", async () => {
    const { sid } = await handshake();
    const s = openWs(`${wsBase}?EIO=4&transport=websocket&sid=${sid}`);
    await s.opened;
    s.ws.send("2probe");
    assert.equal(await s.next(), "3probe");
    const res = await poll(sid);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "6");
    s.ws.send("5");
    s.ws.send("4hello");
    assert.equal(await s.next(), "4hello");
    // after the upgrade, polling requests for the session are refused
    assert.equal((await poll(sid)).status, 400);
    s.ws.close();
  });

  it("accepts a second WebSocket for an upgraded session and closes it at once, as the reference does", async () => {
    const { sid } = await handshake();
    const s = openWs(`${wsBase}?EIO=4&transport=websocket&sid=${sid}`);
    await s.opened;
    s.ws.send("2probe");
    await s.next();
    s.ws.send("5");
    await sleep(50);
    const second = openWs(`${wsBase}?EIO=4&transport=websocket&sid=${sid}`);
    await second.opened;
    assert.equal(await second.closed, 1000);
    s.ws.send("4still");
    assert.equal(await s.next(), "4still");
    s.ws.close();
  });
});

describe("official engine.io-client 6.6", () => {
  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    it(`talks to the edge over ${transports.join(" then ")}`, async () => {
      const socket = new Socket(worker.url, { path: "/engine.io/", transports });
      const messages = [];
      socket.on("message", (m) => messages.push(typeof m === "string" ? m : [...new Uint8Array(m)]));
      await new Promise((resolve, reject) => {
        socket.on("open", resolve);
        socket.on("error", reject);
      });
      if (transports.length === 2 && socket.transport.name !== "websocket") {
        await new Promise((resolve) => socket.on("upgrade", resolve));
      }
      assert.equal(socket.transport.name, transports.at(-1));
      socket.send("hello");
      socket.send(Uint8Array.from([1, 2, 3]));
      // several heartbeats pass without the session closing
      await sleep(3 * PING_INTERVAL);
      assert.equal(socket.readyState, "open");
      assert.deepEqual(messages, ["hello", [1, 2, 3]]);
      socket.close();
    });
  }
});
