// The ESM package (`import { io } from "/pkg/index.js"`) in Chromium against the official
// socket.io@4.8.4 server: connection lifecycle, namespaces, acks, binary, auth, managers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, startIo, startStatic, until } from "./harness.mjs";

let browser, web, server;
const seen = []; // what the server observed

before(async () => {
  web = await startStatic();
  browser = await launch();
  server = await startIo((io) => {
    io.use((socket, next) => {
      const { token } = socket.handshake.auth;
      if (token === "bad") {
        const err = new Error("not authorized");
        err.data = { code: 42, reason: "bad token" };
        return next(err);
      }
      next();
    });
    const handlers = (socket) => {
      seen.push(["connection", socket.nsp.name, socket.id, socket.handshake.auth, socket.handshake.query.room]);
      socket.on("echo", (...args) => args.pop()(...args));
      socket.on("note", (...args) => seen.push(["note", socket.nsp.name, ...args]));
      socket.on("silent", () => {});
      socket.on("ask", async (question) => {
        const answer = await socket.emitWithAck("question", question);
        socket.emit("answer", answer);
      });
      socket.on("binary", (buf, obj, cb) => {
        seen.push(["binary", Buffer.isBuffer(buf) && [...buf], Buffer.isBuffer(obj.nested) && [...obj.nested]]);
        cb(Buffer.from([7, 8, 9]), { deep: [Buffer.from([1]), "x"] });
      });
      socket.on("kick", () => socket.disconnect());
      socket.on("disconnect", (reason) => seen.push(["disconnect", socket.nsp.name, reason]));
    };
    io.on("connection", handlers);
    io.of("/admin").on("connection", handlers);
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await web?.close();
});

async function page() {
  const p = await openPage(browser, `${web.url}/pages/esm.html`);
  return p;
}

describe("ESM package against socket.io 4.8.4", () => {
  test("exports and connect/disconnect with ids, states and reasons", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const out = { protocol, sameDefault: defaultIo === io, hasManager: typeof io.Manager === "function" };
      const socket = io(url);
      out.activeAtOnce = socket.active;
      out.connectedAtOnce = socket.connected;
      await new Promise((res) => socket.on("connect", res));
      out.id = socket.id;
      out.connected = socket.connected;
      out.readyState = socket.io._readyState;
      const reason = new Promise((res) => socket.on("disconnect", (r) => res(r)));
      socket.disconnect();
      out.reason = await reason;
      out.after = [socket.connected, socket.disconnected, socket.active, socket.id];
      return out;
    }, server.url);
    assert.equal(r.protocol, 5);
    assert.ok(r.sameDefault && r.hasManager);
    assert.equal(r.activeAtOnce, true);
    assert.equal(r.connectedAtOnce, false);
    assert.equal(r.connected, true);
    assert.equal(r.readyState, "open");
    assert.ok(seen.some(([k, nsp, id]) => k === "connection" && nsp === "/" && id === r.id));
    assert.equal(r.reason, "io client disconnect");
    assert.deepEqual(r.after, [false, true, false, undefined]);
    await until(() => seen.some(([k, , reason]) => k === "disconnect" && reason === "client namespace disconnect"));
    assert.deepEqual(errors, []);
    await close();
  });

  test("server disconnect, emits queued before the wasm is ready, query in the URL", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url + "/?room=blue");
      socket.emit("note", "early", { n: 1 }); // before the module is even loaded
      await new Promise((res) => socket.on("connect", res));
      const reason = new Promise((res) => socket.on("disconnect", (r) => res(r)));
      socket.emit("kick");
      return { reason: await reason, active: socket.active };
    }, server.url);
    assert.deepEqual(r, { reason: "io server disconnect", active: false });
    assert.ok(seen.some((s) => s[0] === "note" && s[2] === "early" && s[3].n === 1));
    assert.ok(seen.some((s) => s[0] === "connection" && s[4] === "blue"));
    assert.deepEqual(errors, []);
    await close();
  });

  test("an emit whose arguments do not encode throws and keeps nothing: the socket connects and its other emits go out", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url, { forceNew: true });
      const circular = {};
      circular.self = circular;
      const thrown = [];
      for (const bad of [circular, 10n]) {
        try {
          socket.emit("note", "unencodable", bad);
        } catch (e) {
          thrown.push(e instanceof TypeError);
        }
      }
      const buffered = socket.sendBuffer.map((p) => p.data[1]);
      socket.emit("note", "after-unencodable");
      await new Promise((res) => socket.on("connect", res));
      const echoed = await socket.emitWithAck("echo", "still-working");
      socket.disconnect();
      return { thrown, buffered, echoed };
    }, server.url);
    assert.deepEqual(r, { thrown: [true, true], buffered: [], echoed: "still-working" });
    await until(() => seen.some((s) => s[0] === "note" && s[2] === "after-unencodable"), 5_000);
    assert.ok(!seen.some((s) => s[0] === "note" && s[2] === "unencodable"), "nothing of the failed emits reached the server");
    assert.deepEqual(errors, []);
    await close();
  });

  test("namespaces share one manager; forceNew makes another", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const main = io(url);
      const admin = io(url + "/admin");
      const other = io(url + "/admin", { forceNew: true });
      await Promise.all([main, admin, other].map((s) => new Promise((res) => s.on("connect", res))));
      const echo = await admin.emitWithAck("echo", "from admin");
      const out = { shared: main.io === admin.io, forced: other.io !== admin.io, nsp: admin.nsp, echo, ids: [main.id, admin.id] };
      main.disconnect(); admin.disconnect(); other.disconnect();
      return out;
    }, server.url);
    assert.ok(r.shared && r.forced);
    assert.equal(r.nsp, "/admin");
    assert.equal(r.echo, "from admin");
    assert.notEqual(r.ids[0], r.ids[1]);
    assert.ok(seen.some(([k, nsp, id]) => k === "connection" && nsp === "/admin" && id === r.ids[1]));
    assert.deepEqual(errors, []);
    await close();
  });

  test("acks both ways, ack timeouts, emitWithAck, onAny and onAnyOutgoing", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url, { forceNew: true });
      const out = { any: [], outgoing: [] };
      socket.onAny((ev, ...args) => out.any.push([ev, ...args]));
      socket.onAnyOutgoing((ev, ...args) => out.outgoing.push(ev));
      socket.on("question", (q, cb) => cb(q + "!"));
      await new Promise((res) => socket.on("connect", res));
      out.cb = await new Promise((res) => socket.emit("echo", 1, "two", { three: [3] }, (...args) => res(args)));
      out.withAck = await socket.emitWithAck("echo", "x");
      out.timeoutCb = await new Promise((res) => socket.timeout(150).emit("silent", (err, v) => res([err && err.message, v])));
      out.timeoutOk = await new Promise((res) => socket.timeout(2000).emit("echo", "y", (err, v) => res([err, v])));
      out.rejected = await socket.timeout(150).emitWithAck("silent").then(() => "resolved", (e) => e.message);
      out.answer = await new Promise((res) => {
        socket.on("answer", res);
        socket.emit("ask", "why");
      });
      try {
        socket.emit("connect");
      } catch (e) {
        out.reserved = e.message;
      }
      // A name is looked up as socket.io-client does, as a property key.
      try {
        socket.emit(new String("disconnect"));
      } catch (e) {
        out.reservedObject = e.message;
      }
      socket.disconnect();
      return out;
    }, server.url);
    assert.deepEqual(r.cb, [1, "two", { three: [3] }]);
    assert.equal(r.withAck, "x");
    assert.deepEqual(r.timeoutCb, ["operation has timed out", undefined]);
    assert.deepEqual(r.timeoutOk, [null, "y"]);
    assert.equal(r.rejected, "operation has timed out");
    assert.equal(r.answer, "why!");
    assert.equal(r.reserved, '"connect" is a reserved event name');
    assert.equal(r.reservedObject, '"disconnect" is a reserved event name');
    assert.ok(r.any.some(([ev, q]) => ev === "question" && q === "why"));
    assert.ok(r.any.some(([ev, a]) => ev === "answer" && a === "why!"));
    assert.ok(r.outgoing.includes("echo") && r.outgoing.includes("ask"));
    assert.deepEqual(errors, []);
    await close();
  });

  test("binary both ways (ArrayBuffer, typed arrays, nested) arrives as ArrayBuffer", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url, { forceNew: true });
      const [buf, obj] = await new Promise((res) =>
        socket.emit("binary", new Uint8Array([1, 2, 3]).buffer, { nested: new Uint16Array([0x0201, 0x0403]) }, (...a) => res(a)),
      );
      socket.disconnect();
      return {
        isArrayBuffer: buf instanceof ArrayBuffer && obj.deep[0] instanceof ArrayBuffer,
        buf: [...new Uint8Array(buf)],
        deep: [...new Uint8Array(obj.deep[0])],
        x: obj.deep[1],
      };
    }, server.url);
    assert.deepEqual(r, { isArrayBuffer: true, buf: [7, 8, 9], deep: [1], x: "x" });
    assert.ok(seen.some((s) => s[0] === "binary" && s[1].join() === "1,2,3" && s[2].join() === "1,2,3,4"));
    assert.deepEqual(errors, []);
    await close();
  });

  test("auth rejection: connect_error with message and data, then auth fixed", async () => {
    const { page: pg, errors, close } = await page();
    const r = await pg.evaluate(async (url) => {
      const socket = io(url, { forceNew: true, auth: { token: "bad" } });
      const err = await new Promise((res) => socket.on("connect_error", res));
      const out = { message: err.message, data: err.data, isError: err instanceof Error, active: socket.active };
      socket.auth = { token: "good" };
      socket.connect();
      await new Promise((res) => socket.on("connect", res));
      out.connected = socket.connected;
      let calls = 0;
      const fnSocket = io(url + "/admin", { forceNew: true, auth: (cb) => cb({ token: "fn" + ++calls }) });
      await new Promise((res) => fnSocket.on("connect", res));
      out.calls = calls;
      socket.disconnect();
      fnSocket.disconnect();
      return out;
    }, server.url);
    assert.deepEqual(r, {
      message: "not authorized",
      data: { code: 42, reason: "bad token" },
      isError: true,
      active: false,
      connected: true,
      calls: 1,
    });
    assert.ok(seen.some((s) => s[0] === "connection" && s[3].token === "good"));
    assert.ok(seen.some((s) => s[0] === "connection" && s[1] === "/admin" && s[3].token === "fn1"));
    // Known race, kept visible: the manager closes right after the CONNECT_ERROR while the next
    // poll GET is already on the wire; when the close packet's POST reaches the server first,
    // that GET is answered 400 (Session ID unknown). socket.io-client has the same race but
    // sends its close a tick later. Any other error fails the test.
    const closeRace = "Failed to load resource: the server responded with a status of 400 (Bad Request)";
    assert.ok(errors.filter((e) => e.message === closeRace).length <= 1, String(errors));
    assert.deepEqual(errors.filter((e) => e.message !== closeRace), []);
    await close();
  });

  test("manager events when no server answers: errors, attempts, reconnect_failed", async () => {
    const { page: pg, errors, close } = await page();
    const closed = await startIo(() => {});
    await closed.close(); // a port where nothing listens
    const r = await pg.evaluate(async (url) => {
      const events = [];
      const socket = io(url, { reconnectionAttempts: 2, reconnectionDelay: 50, reconnectionDelayMax: 60 });
      const m = socket.io;
      socket.on("connect_error", (e) => events.push("connect_error:" + e.message));
      m.on("error", (e) => events.push("error:" + e.message));
      m.on("reconnect_attempt", (n) => events.push("attempt:" + n));
      m.on("reconnect_error", (e) => events.push("reconnect_error:" + e.message));
      await new Promise((res) => m.on("reconnect_failed", res));
      return { events, active: socket.active };
    }, closed.url);
    assert.deepEqual(r.events, [
      "connect_error:xhr poll error",
      "error:xhr poll error",
      "attempt:1",
      "connect_error:xhr poll error",
      "error:xhr poll error",
      "reconnect_error:xhr poll error",
      "attempt:2",
      "connect_error:xhr poll error",
      "error:xhr poll error",
      "reconnect_error:xhr poll error",
    ]);
    // socket.io-client's Socket stays active (subscribed) after reconnect_failed
    assert.equal(r.active, true);
    // Chromium logs the refused requests as console errors: those are expected here
    assert.ok(errors.every((e) => /ERR_CONNECTION_REFUSED|Failed to fetch/.test(e.message)));
    await close();
  });
});
