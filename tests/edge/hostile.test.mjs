// Bad input against real workerd (the `conformance` environment): each offender gets the
// reference server's kind of answer (a 400 or 503 status, an acknowledged error), while a
// witness session on the same object keeps echoing and the object is not reset (its instance
// count, read with the `__stats` test hook, does not change).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { io } from "socket.io-client";
import { WebSocket } from "ws";
import { startWorker, startWorkerd } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One HTTP request on its own connection; `body` may be a function writing it in parts. With
 * `resetIsAnAnswer`, a connection the server resets while the body is still being written
 * (it answered early and stopped reading) resolves to status "reset".
 */
function http(method, url, { body, headers = {}, ms = 5000, resetIsAnAnswer = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, signal: AbortSignal.timeout(ms) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", (error) => {
      if (resetIsAnAnswer && ["ECONNRESET", "EPIPE"].includes(error.code)) resolve({ status: "reset" });
      else reject(error);
    });
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

/** A polling handshake: the new session's id. */
async function handshake(base) {
  const res = await http("GET", `${base}?EIO=4&transport=polling`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body.slice(1)).sid;
}

/** The witness: an official client on `/` that must keep echoing. */
async function witness(url) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return {
    socket,
    async echoes(tag) {
      const back = new Promise((resolve) => socket.once("message-back", resolve));
      socket.emit("message", tag);
      assert.equal(await Promise.race([back, sleep(10_000).then(() => "no answer")]), tag);
      assert.ok(socket.connected, "the witness is still connected");
    },
  };
}

async function instances(url) {
  const res = await http("GET", `${url}/socket.io/__stats`);
  return JSON.parse(res.body).instances;
}

/**
 * Around the tests of a `describe`: a worker from `start()`, a witness connected first (both
 * handed to `set`), and, after them, the check that the object was never reset.
 */
function witnessed(start, set) {
  let worker;
  let w;
  let before0;
  before(async () => {
    worker = await start();
    w = await witness(worker.url);
    before0 = await instances(worker.url);
    set({ worker, base: `${worker.url}/socket.io/`, w });
  });
  after(async () => {
    w?.socket.close();
    assert.equal(await instances(worker.url), before0, "the object was never reset");
    await worker?.stop();
  });
}

/**
 * Runs `offend({ worker, base, w })` on a conformance worker of its own started with `vars`,
 * with a witness connected first; then the witness must still echo and the object must not
 * have been reset. Stops the worker.
 */
async function onOwnWorker(vars, offend) {
  const worker = await startWorker("conformance", { vars });
  try {
    const w = await witness(worker.url);
    const before = await instances(worker.url);
    await offend({ worker, base: `${worker.url}/socket.io/`, w });
    await w.echoes("after the offender");
    assert.equal(await instances(worker.url), before, "the object was never reset");
    w.socket.close();
  } finally {
    await worker.stop();
  }
}

/** How the official client, connecting over `transports`, sees a refused handshake. */
async function officialRefusal(url, transports) {
  const official = io(url, { forceNew: true, reconnection: false, transports });
  const error = await new Promise((resolve) => official.once("connect_error", resolve));
  official.close();
  return error.message;
}

describe("hostile input", () => {
  let worker;
  let base;
  let w;
  witnessed(() => startWorker("conformance"), (f) => ({ worker, base, w } = f));

  it("a sid that names no numbered object gets 400 Session ID unknown", async () => {
    for (const sid of ["zz-x", "00-x", "1-x", "-x", "0x1-x"]) {
      const res = await http("GET", `${base}?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(res.status, 400, sid);
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: "Session ID unknown" }, sid);
    }
    await w.echoes("after bad sids");
  });

  it("a method other than GET and POST gets 400 Bad request, on a handshake and on a session", async () => {
    const sid = await handshake(base);
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const handshaking = await http(method, `${base}?EIO=4&transport=polling`, { body: "4hello" });
      assert.equal(handshaking.status, 400, method);
      assert.deepEqual(JSON.parse(handshaking.body), { code: 2, message: "Bad handshake method" });
      const polling = await http(method, `${base}?EIO=4&transport=polling&sid=${sid}`, { body: "4hello" });
      assert.equal(polling.status, 400, method);
      assert.deepEqual(JSON.parse(polling.body), { code: 3, message: "Bad request" });
    }
    // The session is untouched: nothing was queued for it, its next poll is its own.
    assert.equal((await http("POST", `${base}?EIO=4&transport=polling&sid=${sid}`, { body: "40" })).status, 200);
    await w.echoes("after other methods");
  });

  it("the query is read as the reference reads it: the last of a repeated parameter, an empty sid is none, a session's request needs EIO=4", async () => {
    const handshakes = {
      "EIO=4&transport=websocket&transport=polling": 200,
      "EIO=3&EIO=4&transport=polling": 200,
      "EIO=4&transport=polling&sid=": 200,
    };
    for (const [query, status] of Object.entries(handshakes)) {
      const res = await http("GET", `${base}?${query}`);
      assert.equal(res.status, status, query);
      assert.equal(typeof JSON.parse(res.body.slice(1)).sid, "string", query);
    }
    const refused = {
      "EIO=4&transport=polling&transport=websocket": { code: 3, message: "Bad request" },
      "EIO=4&EIO=3&transport=polling": { code: 5, message: "Unsupported protocol version" },
    };
    for (const [query, error] of Object.entries(refused)) {
      const res = await http("GET", `${base}?${query}`);
      assert.equal(res.status, 400, query);
      assert.deepEqual(JSON.parse(res.body), error, query);
    }
    const sid = await handshake(base);
    const session = {
      [`transport=polling&sid=${sid}`]: { code: 3, message: "Bad request" },
      [`EIO=3&transport=polling&sid=${sid}`]: { code: 3, message: "Bad request" },
      [`EIO=4&transport=polling&sid=${sid}&sid=0-unknown`]: { code: 1, message: "Session ID unknown" },
    };
    for (const [query, error] of Object.entries(session)) {
      for (const method of ["GET", "POST"]) {
        const res = await http(method, `${base}?${query}`, { body: method === "POST" ? "40" : undefined });
        assert.equal(res.status, 400, `${method} ${query}`);
        assert.deepEqual(JSON.parse(res.body), error, `${method} ${query}`);
      }
    }
    // None of them was served: the session's own POST and poll are its first.
    const url = `${base}?EIO=4&transport=polling&sid=0-unknown&sid=${sid}`;
    assert.equal((await http("POST", url, { body: "40" })).status, 200);
    assert.match((await http("GET", url)).body, /^40\{"sid":/, "the CONNECT of the last sid's own POST is answered");
    await w.echoes("after repeated and missing query parameters");
  });

  it("a POST of binary content (application/octet-stream, never sent by a v4 client) gets 400 and ends the session", async () => {
    const sid = await handshake(base);
    const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
    const posted = await http("POST", url, { body: "40", headers: { "Content-Type": "application/octet-stream" } });
    assert.equal(posted.status, 400);
    assert.equal(posted.body, "");
    const poll = await http("GET", url);
    assert.equal(poll.status, 400);
    assert.deepEqual(JSON.parse(poll.body), { code: 1, message: "Session ID unknown" }, "the session is over");
    // Text with a charset, as browsers and socket.io-client send it, is served.
    const other = await handshake(base);
    const text = { "Content-Type": "text/plain;charset=UTF-8" };
    assert.equal((await http("POST", `${base}?EIO=4&transport=polling&sid=${other}`, { body: "40", headers: text })).status, 200);
    assert.match((await http("GET", `${base}?EIO=4&transport=polling&sid=${other}`)).body, /^40\{"sid":/);
    await w.echoes("after binary content");
  });

  it("a POST while another one of the session is in progress gets 400 and ends the session", async () => {
    const sid = await handshake(base);
    const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
    let finish;
    const first = http("POST", url, {
      headers: { "Content-Type": "text/plain;charset=UTF-8", "Transfer-Encoding": "chunked" },
      body: (req) => {
        req.write("40");
        finish = () => req.end();
      },
    });
    await sleep(300); // the first body is being read
    const second = await http("POST", url, { body: "40" });
    assert.equal(second.status, 400);
    finish();
    assert.equal((await first).status, 400, "the session is over for the first one too");
    const poll = await http("GET", url);
    assert.equal(poll.status, 400);
    await w.echoes("after overlapping POSTs");
  });

  it("a POST naming another transport than the session's gets 400 and leaves the session as it was", async () => {
    const sid = await handshake(base);
    const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
    const wrong = await http("POST", `${base}?EIO=4&transport=websocket&sid=${sid}`, { body: "40" });
    assert.equal(wrong.status, 400);
    assert.equal((await http("POST", url, { body: "40" })).status, 200, "the session's own POST is served");
    const poll = await http("GET", url);
    assert.equal(poll.status, 200);
    assert.ok(poll.body.split("\x1e").some((packet) => packet.startsWith('40{"sid":')), poll.body);
    await w.echoes("after a POST naming the wrong transport");
  });

  it("a room named after another socket's id is refused with an error", async () => {
    const a = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"] });
    const b = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"] });
    try {
      await Promise.all([a, b].map((s) => new Promise((r) => s.once("connect", r))));
      const answer = await b.timeout(3000).emitWithAck("join", a.id);
      assert.deepEqual(answer, { error: `room "${a.id}" is the id of another socket` });
      assert.equal(await b.timeout(3000).emitWithAck("join", "lobby"), "lobby", "other rooms still join");
    } finally {
      a.close();
      b.close();
    }
    await w.echoes("after a room named after a socket");
  });

  it("a CONNECT whose auth could not be kept across hibernation gets CONNECT_ERROR auth too large", async () => {
    const token = "x".repeat(70_000); // past the 64 KiB session snapshot
    const socket = io(worker.url, { forceNew: true, transports: ["websocket"], auth: { token }, reconnection: false });
    try {
      const error = await new Promise((resolve) => socket.once("connect_error", resolve));
      assert.equal(error.message, "auth too large");
      assert.equal(typeof error.data.limit, "number");
      assert.ok(error.data.limit < token.length);
    } finally {
      socket.close();
    }
    await w.echoes("after an oversized auth");
  });

  /** What connecting to `url` with `options` ends in: the connect_error's message, or "connected". */
  async function connectOutcome(url, options) {
    const socket = io(url, { forceNew: true, reconnection: false, ...options });
    try {
      return await new Promise((resolve) => {
        socket.once("connect_error", (error) => resolve(error.message));
        socket.once("connect", () => resolve("connected"));
      });
    } finally {
      socket.close();
    }
  }
  const EVERY_PATH = [["polling", "websocket"], ["websocket"], ["polling"]];

  it("a CONNECT whose middleware keeps socket.data too large to survive hibernation gets CONNECT_ERROR saying so, on every path", async () => {
    // `/auth` keeps the auth's profile as socket.data: 40 KB twice (auth and data) pass the
    // 64 KiB session snapshot. Accepted, the socket was lost at the object's next eviction.
    for (const transports of EVERY_PATH) {
      const auth = { token: "secret", profile: "p".repeat(40_000) };
      const outcome = await connectOutcome(`${worker.url}/auth`, { transports, auth });
      assert.match(outcome, /^socket state of \d+ bytes exceeds the limit of 65536$/, transports.join("+"));
    }
    // A profile that fits is kept.
    const auth = { token: "secret", profile: "p".repeat(1000) };
    assert.equal(await connectOutcome(`${worker.url}/auth`, { transports: ["websocket"], auth }), "connected");
    await w.echoes("after an oversized socket.data");
  });

  it("a CONNECT to a dynamic namespace named with more than 1 KiB gets CONNECT_ERROR Invalid namespace, on every path", async () => {
    // The names of the dynamic namespaces in use are kept in one storage value of the object:
    // 38 connections to names of 60 KB took it past SQLite's limit, and every later write of
    // the object failed with it (found by a review round).
    for (const transports of EVERY_PATH) {
      const outcome = await connectOutcome(`${worker.url}/dynamic-${"7".repeat(2000)}`, { transports });
      assert.equal(outcome, "Invalid namespace", transports.join("+"));
    }
    assert.equal(await connectOutcome(`${worker.url}/dynamic-${"7".repeat(1000)}`, { transports: ["websocket"] }), "connected");
    await w.echoes("after a long namespace");
  });

  it("a handshake with a long query (a token in the URL) is accepted; its auth past the attachment too", async () => {
    // Past the 2 KB WebSocket attachment, the session's snapshot is kept in storage (its
    // restore after an eviction: tests/lifecycle). A query past the 64 KiB snapshot cannot
    // arrive: the runtime refuses a URL that long first.
    const res = await http("GET", `${base}?EIO=4&transport=polling&token=${"x".repeat(2500)}`);
    assert.equal(res.status, 200);
    const token = "t".repeat(3000);
    const socket = io(worker.url, { forceNew: true, transports: ["websocket"], auth: { token }, reconnection: false });
    try {
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      assert.deepEqual(await socket.timeout(3000).emitWithAck("message-with-ack", "still here"), "still here");
    } finally {
      socket.close();
    }
    await w.echoes("after a long query and auth");
  });

  it("joins that would overflow the session's snapshot are refused with an error, others go on", async () => {
    const socket = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"] });
    try {
      await new Promise((r) => socket.once("connect", r));
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push(await socket.timeout(3000).emitWithAck("join", `${"r".repeat(4000)}${i}`));
      const refused = answers.filter((a) => typeof a === "object");
      assert.ok(refused.length > 0 && refused.length < 20, `${refused.length} of 20 refused`);
      assert.match(refused[0].error, /^socket state of \d+ bytes exceeds the limit of 65536$/);
      assert.ok(socket.connected);
    } finally {
      socket.close();
    }
    await w.echoes("after too many rooms");
  });

  it("a POST of more than 150,000 packets gets 413, none of them handled, and the session goes on", async () => {
    const echo = `${worker.url}/engine.io/`; // the Engine.IO echo of the conformance environment
    const sid = await handshake(echo);
    const url = `${echo}?EIO=4&transport=polling&sid=${sid}`;
    const many = await http("POST", url, { body: Array(150_001).fill("4x").join("\x1e") });
    assert.equal(many.status, 413);
    assert.equal((await http("POST", url, { body: Array(150_000).fill("4x").join("\x1e") })).status, 200);
    const echoed = await http("GET", url);
    assert.equal(echoed.body.split("\x1e").length, 150_000, "the allowed body was handled whole, and alone");
    await w.echoes("after a body of many packets");
  });

  it('CORS_ORIGINS="*" allows any origin without credentials, as socket.io\'s cors option', async () => {
    const res = await http("GET", `${base}?EIO=4&transport=polling`, { headers: { Origin: "https://evil.example" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.equal(res.headers["access-control-allow-credentials"], undefined);
  });
});

describe("CORS_ORIGINS as a list of origins, on workerd", () => {
  let base;
  let w;
  const vars = { SOCKETIO_PATH: "/socket.io/", TEST_HOOKS: "1", CORS_ORIGINS: "https://a.example, https://b.example" };
  witnessed(() => startWorkerd(vars), (f) => ({ base, w } = f));

  it("each listed origin gets itself back with credentials on every polling answer; another gets no CORS headers", async () => {
    const cors = (res) => [res.headers["access-control-allow-origin"], res.headers["access-control-allow-credentials"], res.headers.vary];
    // Alternating origins on one session: no answer carries the headers made for another.
    for (const origin of ["https://a.example", "https://b.example", "https://a.example", "https://evil.example"]) {
      const headers = { Origin: origin };
      const expected = origin === "https://evil.example" ? [undefined, undefined, undefined] : [origin, "true", "Origin"];
      const open = await http("GET", `${base}?EIO=4&transport=polling`, { headers });
      assert.equal(open.status, 200);
      assert.deepEqual(cors(open), expected, `handshake from ${origin}`);
      const sid = JSON.parse(open.body.slice(1)).sid;
      const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
      const posted = await http("POST", url, { body: "40", headers });
      assert.equal(posted.body, "ok");
      assert.deepEqual(cors(posted), expected, `POST from ${origin}`);
      const connected = await http("GET", url, { headers });
      assert.match(connected.body, /^40\{"sid":/);
      assert.deepEqual(cors(connected), expected, `GET from ${origin}`);
      assert.equal(connected.headers["cache-control"], "no-store");
      assert.equal(connected.headers["content-type"], "text/plain; charset=UTF-8");
      const unknown = await http("GET", `${base}?EIO=4&transport=polling&sid=nope`, { headers });
      assert.equal(unknown.status, 400);
      assert.deepEqual(cors(unknown), expected, `400 to ${origin}`);
    }
    await w.echoes("after answers to several origins");
  });
});

describe("POST bodies, on workerd without wrangler's proxy (it holds answers until a body ends)", () => {
  let base;
  let w;
  const vars = { SOCKETIO_PATH: "/socket.io/", TEST_HOOKS: "1", MAX_PAYLOAD: "1000000" };
  witnessed(() => startWorkerd(vars), (f) => ({ base, w } = f));

  it("a POST declaring more than maxPayload gets 413 before its body is read, and the session goes on", async () => {
    const sid = await handshake(base);
    const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
    let written = 0;
    const res = await http("POST", url, {
      headers: { "Content-Type": "text/plain;charset=UTF-8", "Content-Length": String(100_000_000) },
      resetIsAnAnswer: true, // the answer may race the body's first bytes
      body: (req) => req.write("4" + "x".repeat(65_535), () => (written += 65_536)),
    });
    assert.ok([413, "reset"].includes(res.status), `${res.status}`);
    assert.ok(written <= 65_536, "nothing past the first write was needed for the answer");
    assert.equal((await http("POST", url, { body: "40" })).status, 200, "the session takes the next POST");
    await w.echoes("after a declared oversize body");
  });

  it("a chunked POST gets 413 as soon as it passes maxPayload, holding no more than that", async () => {
    const sid = await handshake(base);
    const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
    let written = 0;
    let stopped = false;
    const res = await http("POST", url, {
      headers: { "Content-Type": "text/plain;charset=UTF-8", "Transfer-Encoding": "chunked" },
      ms: 30_000,
      resetIsAnAnswer: true, // past 4 x maxPayload the server stops reading: the answer may race the reset
      body: (req) => {
        req.on("response", () => (stopped = true));
        req.on("error", () => (stopped = true));
        const chunk = "4" + "x".repeat(65_535);
        const more = () => {
          // Up to 100 MB, unless the answer comes first.
          while (!stopped && written < 100_000_000) {
            written += chunk.length;
            if (!req.write(chunk)) return req.once("drain", more);
          }
          req.end();
        };
        more();
      },
    });
    assert.ok([413, "reset"].includes(res.status), `${res.status}`);
    assert.ok(written < 20_000_000, `the answer came after ${written} bytes, not at the end of 100 MB`);
    assert.equal((await http("POST", url, { body: "40" })).status, 200, "the session takes the next POST");
    await w.echoes("after a chunked oversize body");
  });

  it("a POST to an unknown session gets 400 with its body dropped as it comes", async () => {
    const body = "4" + "x".repeat(500_000);
    for (let i = 0; i < 5; i++) {
      const res = await http("POST", `${base}?EIO=4&transport=polling&sid=0-unknown${i}`, { body });
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: "Session ID unknown" });
    }
    const big = await http("POST", `${base}?EIO=4&transport=polling&sid=0-unknown`, {
      headers: { "Content-Length": String(50_000_000) },
      resetIsAnAnswer: true,
      body: (req) => req.write("4"),
    });
    assert.ok([413, "reset"].includes(big.status), "an unknown session's oversize body is not read either");
    await w.echoes("after bodies for unknown sessions");
  });

});

describe("a full object", () => {
  it("answers handshakes 503 past MAX_SESSIONS, and its sessions go on", async () => {
    await onOwnWorker({ MAX_SESSIONS: "2" }, async ({ worker, base }) => {
      await handshake(base); // the second, beside the witness
      const refused = await http("GET", `${base}?EIO=4&transport=polling`);
      assert.equal(refused.status, 503);
      assert.match(await officialRefusal(worker.url, ["polling"]), /xhr poll error/);
    });
  });
});

describe("Durable Object classes that are not SQLite-backed", () => {
  it("answer every handshake 500, and workerd's log says to declare them under new_sqlite_classes", async () => {
    const worker = await startWorkerd({ SOCKETIO_PATH: "/socket.io/" }, { sqlite: false });
    try {
      const res = await http("GET", `${worker.url}/socket.io/?EIO=4&transport=polling`);
      assert.equal(res.status, 500);
      assert.match(await officialRefusal(worker.url, ["polling"]), /xhr poll error/);
      assert.match(await officialRefusal(worker.url, ["websocket"]), /websocket error/);
      assert.match(worker.log(), /storage\.kv \(synchronous KV\) API is only available for SQLite-backed.*`new_sqlite_classes`/);
    } finally {
      await worker.stop();
    }
  });
});

describe("a client past its handshakes per minute", () => {
  it("gets 429 with Retry-After, and the sessions it opened go on", async () => {
    await onOwnWorker({ MAX_HANDSHAKES_PER_MINUTE: "3" }, async ({ worker, base }) => {
      const sid = await handshake(base); // the witness was the first of the three
      await handshake(base);
      const refused = await http("GET", `${base}?EIO=4&transport=polling`);
      assert.equal(refused.status, 429);
      const retry = Number(refused.headers["retry-after"]);
      assert.ok(retry > 0 && retry <= 60, `Retry-After: ${retry}`);
      assert.match(await officialRefusal(worker.url, ["websocket"]), /websocket error/);
      const post = await http("POST", `${base}?EIO=4&transport=polling&sid=${sid}`, { body: "40" });
      assert.equal(post.status, 200, "an admitted session goes on");
    });
  });
});

describe("a binary packet whose attachments never come", () => {
  it("closes its session after ATTACHMENT_TIMEOUT, while the client answers every ping", async () => {
    await onOwnWorker({ ATTACHMENT_TIMEOUT: "1000" }, async ({ worker }) => {
      const ws = new WebSocket(`${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
      let connected;
      const ready = new Promise((resolve) => (connected = resolve));
      ws.on("message", (data) => {
        const text = data.toString();
        if (text.startsWith("0")) ws.send("40");
        if (text.startsWith("40")) connected();
        if (text === "2") ws.send("3"); // alive: only the missing attachments may end it
      });
      await ready;
      const sent = Date.now();
      ws.send('451-["message",{"_placeholder":true,"num":0}]');
      const closed = await Promise.race([
        new Promise((resolve) => ws.once("close", () => resolve(Date.now() - sent))),
        sleep(5000).then(() => "still open"),
      ]);
      assert.equal(typeof closed, "number", "the session was closed");
      assert.ok(closed >= 900, `closed after ${closed} ms: the attachments had their time`);
    });
  });
});

describe("a rate limit by client address (3 at once, then 1 a minute)", () => {
  it("is refilled neither by new sockets nor by a restart of workerd on its storage", async () => {
    let worker = await startWorker("conformance");
    /** Sends `n` pings on a new socket over `transports`; how many pongs came back. */
    const pings = async (n, transports) => {
      const socket = io(`${worker.url}/limited-by-address`, { forceNew: true, transports });
      await new Promise((r) => socket.once("connect", r));
      let pongs = 0;
      socket.on("pong", () => pongs++);
      for (let i = 0; i < n; i++) socket.emit("ping", i);
      await sleep(1000);
      socket.close();
      return pongs;
    };
    try {
      assert.equal(await pings(5, ["websocket"]), 3, "the burst");
      assert.equal(await pings(2, ["polling"]), 0, "another socket of the same address draws from the same bucket");
      const { port, persist } = worker;
      await worker.stop();
      worker = await startWorker("conformance", { port, persist });
      assert.equal(await pings(2, ["polling", "websocket"]), 0, "after a restart, the bucket is as it was");
      const w = await witness(worker.url);
      await w.echoes("the other namespaces are not limited");
      w.socket.close();
    } finally {
      await worker.stop();
    }
  });
});

describe("a flood of namespace CONNECTs on one connection", () => {
  // Socket.IO's usual heartbeat here: the flood holds the object for about a second (each
  // accepted CONNECT writes its session's snapshot), which the conformance worker's 300 ms
  // ping interval would turn into the witness's ping timeout.
  it("gets each CONNECT answered: accepted until the session's state is full, then CONNECT_ERROR", async () => {
    await onOwnWorker({ PING_INTERVAL: "25000", PING_TIMEOUT: "20000" }, async ({ base }) => {
      // One POST of 5,000 (polling) and one WebSocket sending 1,500: each CONNECT gets its
      // answer, the ones past what a session's snapshot can keep "connection state too large".
      // (Each accepted socket is also sent an `auth` event by the conformance application.)
      const isAnswer = (frame) => frame.startsWith("40/") || frame.startsWith("44/");
      const count = (frames) => ({
        accepted: frames.filter((f) => /^40\/dynamic-\d+,\{"sid":/.test(f)).length,
        refused: frames.filter((f) => f.startsWith("44/dynamic-") && f.includes('"connection state too large"')).length,
      });
      const sid = await handshake(base);
      const url = `${base}?EIO=4&transport=polling&sid=${sid}`;
      const connects = (n) => Array.from({ length: n }, (_, i) => `40/dynamic-${i},`);
      assert.equal((await http("POST", url, { body: connects(5_000).join("\x1e") })).status, 200);
      const polled = [];
      while (polled.length < 5_000) {
        const res = await http("GET", url);
        assert.equal(res.status, 200, res.body);
        polled.push(...res.body.split("\x1e").filter(isAnswer));
      }
      const overPolling = count(polled);
      assert.ok(overPolling.accepted > 500, JSON.stringify(overPolling));
      assert.equal(overPolling.accepted + overPolling.refused, 5_000, JSON.stringify(overPolling));
      const ws = new WebSocket(`${base.replace("http", "ws")}?EIO=4&transport=websocket`);
      try {
        await new Promise((resolve) => ws.once("message", resolve)); // the open packet
        const frames = [];
        const all = new Promise((resolve) =>
          ws.on("message", (data) => {
            if (isAnswer(String(data))) frames.push(String(data));
            if (frames.length === 1_500) resolve();
          }),
        );
        for (const connect of connects(1_500)) ws.send(connect);
        await all;
        const overWebSocket = count(frames);
        assert.ok(overWebSocket.accepted > 500 && overWebSocket.refused > 0, JSON.stringify(overWebSocket));
        assert.equal(overWebSocket.accepted + overWebSocket.refused, 1_500, JSON.stringify(overWebSocket));
      } finally {
        ws.close();
      }
    });
  });
});

describe("a WebSocket message larger than maxPayload", () => {
  for (const heartbeat of ["hibernate", "strict"]) {
    it(`is refused with close 1009 before it reaches wasm memory (${heartbeat} WebSockets)`, async () => {
      // Socket.IO's usual heartbeat: taking in 60 MB may hold workerd longer than the
      // conformance worker's 300 ms ping interval, which would end the witness's session.
      const vars = { HEARTBEAT: heartbeat, PING_INTERVAL: "25000", PING_TIMEOUT: "20000" };
      await onOwnWorker(vars, async ({ worker, w }) => {
        const object = w.socket.io.engine.id.split("-")[0];
        const memory = async () =>
          JSON.parse((await http("GET", `${worker.url}/socket.io/__stats?object=${object}`)).body).wasmMemoryBytes;
        const before = await memory();
        for (const message of ["4" + "x".repeat(30 * 2 ** 20), new Uint8Array(30 * 2 ** 20)]) {
          const ws = new WebSocket(`${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
          await new Promise((resolve) => ws.once("message", resolve)); // the open packet
          const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve([code, String(reason)])));
          ws.send(message);
          assert.deepEqual(await closed, [1009, "message too big"]);
        }
        const grown = (await memory()) - before;
        assert.ok(grown < 2 ** 20, `wasm memory grew by ${grown} bytes`);
        // The application's disconnect handler reads "transport error", as socket.io's does
        // when its `ws` refuses a message (/server-disconnect tells everyone as `left`).
        const url = `${worker.url}/server-disconnect`;
        const hearer = io(url, { forceNew: true, transports: ["websocket"], reconnection: false });
        const sender = io(url, { forceNew: true, transports: ["websocket"], reconnection: false });
        try {
          const left = new Promise((resolve) => hearer.on("left", (...args) => resolve(args)));
          await sender.emitWithAck("name", "too-big");
          await new Promise((resolve) => (hearer.connected ? resolve() : hearer.once("connect", resolve)));
          const disconnected = new Promise((resolve) => sender.once("disconnect", resolve));
          sender.emit("ping", "x".repeat(1_000_100));
          assert.deepEqual(await left, ["too-big", "transport error"]);
          assert.equal(await disconnected, "transport close");
        } finally {
          hearer.close();
          sender.close();
        }
      });
    });
  }
});

describe("the chat deployment", () => {
  it("a CONNECT recovering a pid that names no object of the deployment gets a new session, and creates no object", async () => {
    const worker = await startWorker();
    const ws = new WebSocket(`${worker.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    try {
      const frames = [];
      ws.on("message", (data) => frames.push(String(data)));
      await new Promise((resolve) => ws.once("open", resolve));
      await sleep(500); // the open packet; the object of this session exists
      // The storage files of the deployment's Socket.IO objects.
      const folder = join(worker.persist, "v3/do");
      const objects = () =>
        readdirSync(folder)
          .filter((d) => d.endsWith("SocketIoObject"))
          .flatMap((d) => readdirSync(join(folder, d)))
          .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite").length;
      const before = objects();
      // Not numbered, past SHARDS (4), not canonical, long.
      const pids = ["evil-abc", "9-abc", "00-abc", `${"z".repeat(5_000)}-abc`, ...Array.from({ length: 20 }, (_, i) => `forged${i}-abc`)];
      for (const pid of pids) {
        const answered = frames.length;
        ws.send(`40${JSON.stringify({ pid, offset: "0" })}`);
        while (!frames.slice(answered).some((f) => f.startsWith("40{"))) await sleep(5);
        ws.send("41");
      }
      await sleep(1000); // what a question to another object would have written
      assert.equal(frames.filter((f) => f.startsWith('40{"sid":')).length, pids.length, "each CONNECT gets a new session");
      assert.equal(objects(), before, "no object was created for a pid");
    } finally {
      ws.close();
      await worker.stop();
    }
  });

  it("drops a flooding client's messages past its rate limit, and the others chat on", async () => {
    const worker = await startWorker(undefined, { vars: { TEST_HOOKS: "1" } });
    const query = { partition: "flood" }; // both on one object
    const flooder = io(worker.url, { forceNew: true, transports: ["websocket"], query });
    const witness = io(worker.url, { forceNew: true, transports: ["websocket"], query });
    try {
      await Promise.all([flooder, witness].map((s) => new Promise((r) => s.once("connect", r))));
      const received = [];
      witness.on("chat message", (m) => received.push(m.text));
      const object = flooder.io.engine.id.split("-")[0];
      const dropped = async () =>
        JSON.parse((await http("GET", `${worker.url}/socket.io/__stats?object=${object}`)).body).droppedEvents;
      const start = Date.now();
      for (let i = 0; i < 500; i++) flooder.emit("chat message", `flood-${i}`);
      // Each message is either dropped by the limiter or delivered to the witness: wait until
      // all 500 are accounted for (the server may still be working through the flood).
      let flood;
      let drops;
      const deadline = Date.now() + 15_000;
      do {
        await sleep(250);
        flood = received.filter((t) => t.startsWith("flood-")).length;
        drops = await dropped();
      } while (flood + drops < 500 && Date.now() < deadline);
      assert.equal(flood + drops, 500, `${flood} delivered and ${drops} dropped of 500`);
      // A burst of 60, then 30 a second for as long as the flood lasted.
      const seconds = (Date.now() - start) / 1000;
      assert.ok(flood >= 60 && flood <= 61 + 30 * seconds, `${flood} of 500 went through in ${seconds} s`);
      witness.emit("chat message", "still here");
      await sleep(500);
      assert.ok(received.includes("still here"), "the witness chats on");
      assert.ok(flooder.connected, "the flooder is not disconnected, only limited");
    } finally {
      flooder.close();
      witness.close();
      await worker.stop();
    }
  });
});

describe("rooms with long names, thousands of them held by one object of many", () => {
  it("are kept room by room: joins past 2 MB of names stay stored, and broadcasts from another object reach them", async () => {
    const worker = await startWorker("conformance", { vars: { SHARDS: "4", PING_INTERVAL: "25000", PING_TIMEOUT: "20000" } });
    const sockets = [];
    try {
      const connect = async (partition) => {
        const socket = io(`${worker.url}/rooms`, { forceNew: true, transports: ["websocket"], query: { partition } });
        sockets.push(socket);
        await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
        return socket;
      };
      // `p0` and `p2` send sessions to two different objects of the 4 (FNV-1a, as the worker).
      const holders = [];
      for (let i = 0; i < 44; i++) holders.push(await connect("p0"));
      const name = (i, j) => `${String(i).padStart(2, "0")}-${String(j).padStart(2, "0")}-`.padEnd(1000, "x");
      // 44 sockets x 60 rooms of 1,000 characters: 2.64 MB of names held by one object, each
      // socket within its own state limit (64 KiB).
      const joined = await Promise.all(
        holders.map((socket, i) => Promise.all([...Array(60).keys()].map((j) => socket.timeout(60_000).emitWithAck("join", name(i, j))))),
      );
      assert.deepEqual(joined, holders.map((_, i) => [...Array(60).keys()].map((j) => name(i, j))), "every join accepted");
      const sender = await connect("p2");
      assert.notEqual(sender.id.split("-")[0], holders[0].id.split("-")[0], "the sender is on another object");
      const heard = new Promise((resolve) => holders[43].once("room-message", resolve));
      sender.emit("to-room-all", name(43, 59), "to the last room joined");
      assert.equal(await heard, "to the last room joined");
      assert.doesNotMatch(worker.log(), /TOOBIG|room directory was not told/, "the held rooms were stored");
    } finally {
      sockets.forEach((s) => s.close());
      await worker.stop();
    }
  });
});
