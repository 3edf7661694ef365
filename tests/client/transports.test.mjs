// Transports and connection continuity, ESM package in Chromium against socket.io@4.8.4:
// polling only, WebSocket only, the polling -> WebSocket upgrade, reconnection after the
// server restarts, and connection state recovery.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { crash, launch, openPage, startIo, startStatic, until } from "./harness.mjs";

let browser, web;

before(async () => {
  web = await startStatic();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await web?.close();
});

/** An echo server recording the transport of each connection. */
const echo = (transports) => (io) =>
  io.on("connection", (socket) => {
    transports.push(socket.conn.transport.name);
    socket.conn.on("upgrade", (t) => transports.push("upgrade:" + t.name));
    socket.on("echo", (...args) => args.pop()(...args));
    socket.on("seq", (n) => socket.emit("seq", n));
  });

/** Connects, echoes text and binary, and reports the client's transport. */
async function roundTrip(pg, url, opts) {
  return pg.evaluate(
    async ([url, opts]) => {
      const socket = io(url, opts);
      await new Promise((res) => socket.on("connect", res));
      const text = await socket.emitWithAck("echo", "héllo ✓", { n: [1, 2] });
      const bin = await socket.emitWithAck("echo", new Uint8Array([0, 255, 128]));
      const out = { text, bin: [...new Uint8Array(bin)], transport: socket.io.engine.transport.name };
      socket.disconnect();
      return out;
    },
    [url, opts],
  );
}

describe("transports", () => {
  test("closeOnBeforeunload closes the session when the page goes away", async () => {
    const reasons = [];
    const server = await startIo((io) => io.on("connection", (socket) => socket.on("disconnect", (r) => reasons.push(r))), {
      pingInterval: 10_000,
      pingTimeout: 5_000,
    });
    const { page: pg, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    await pg.evaluate(async (url) => {
      const socket = io(url, { transports: ["polling"], closeOnBeforeunload: true });
      await new Promise((res) => socket.on("connect", res));
    }, server.url);
    await pg.goto("about:blank");
    // the client said goodbye: the server knows at once, long before a ping timeout
    await until(() => reasons.length === 1, 3000);
    assert.deepEqual(reasons, ["transport close"]);
    await close();
    await server.close();
  });

  test("polling only (binary as base64 in payloads)", async () => {
    const transports = [];
    const server = await startIo(echo(transports));
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    const r = await roundTrip(pg, server.url, { transports: ["polling"] });
    assert.deepEqual(r, { text: "héllo ✓", bin: [0, 255, 128], transport: "polling" });
    assert.deepEqual(transports, ["polling"]);
    assert.deepEqual(errors, []);
    await close();
    await server.close();
  });

  test("WebSocket only", async () => {
    const transports = [];
    const server = await startIo(echo(transports));
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    const r = await roundTrip(pg, server.url, { transports: ["websocket"] });
    assert.deepEqual(r, { text: "héllo ✓", bin: [0, 255, 128], transport: "websocket" });
    assert.deepEqual(transports, ["websocket"]);
    assert.deepEqual(errors, []);
    await close();
    await server.close();
  });

  // Received JSON reaches the page as the part of the frame it arrived in (no copy): the
  // offsets must count UTF-16 units as JavaScript does, astral characters being two.
  test("non-ASCII namespaces, events and ack answers arrive intact on both transports", async () => {
    const text = "😀 héllo ✓ 𝄞";
    const server = await startIo((io) =>
      io.of("/café-😀").on("connection", (socket) => {
        socket.emit("hi", text, { [text]: [text, 1] });
        socket.on("echo", (...args) => args.pop()(...args, text));
      }),
    );
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    for (const transports of [["polling"], ["websocket"]]) {
      const r = await pg.evaluate(
        async ([url, transports]) => {
          const socket = io(url + "/café-😀", { transports, forceNew: true });
          const hi = await new Promise((res) => socket.on("hi", (...args) => res(args)));
          const echoed = await socket.emitWithAck("echo", "ñ😀", [2, "𝄞"]);
          const out = { hi, echoed, transport: socket.io.engine.transport.name };
          socket.disconnect();
          return out;
        },
        [server.url, transports],
      );
      assert.deepEqual(r, { hi: [text, { [text]: [text, 1] }], echoed: "ñ😀", transport: transports[0] });
    }
    assert.deepEqual(errors, []);
    await close();
    await server.close();
  });

  // The core routes a WebSocket event from the frame's start up to its first `[`: a namespace
  // holding a `[` must not be read as the namespace cut there.
  test("events of a namespace with a [ in its name reach it, not the namespace its name starts with", async () => {
    const server = await startIo((io) => {
      io.of("/room").on("connection", (socket) => socket.on("go", () => socket.nsp.server.of("/room[1]").emit("hi", "to [1]")));
      io.of("/room[1]").on("connection", (socket) => socket.emit("hello", "from [1]"));
    });
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    const r = await pg.evaluate(async (url) => {
      const heard = [];
      const room = io(url + "/room", { transports: ["websocket"] });
      room.onAny((ev, arg) => heard.push(["/room", ev, arg]));
      await new Promise((res) => room.on("connect", res));
      const bracket = io(url + "/room[1]", { transports: ["websocket"] });
      bracket.onAny((ev, arg) => heard.push(["/room[1]", ev, arg]));
      const hello = new Promise((res) => bracket.on("hello", res));
      await new Promise((res) => bracket.on("connect", res));
      await hello;
      const hi = new Promise((res) => bracket.on("hi", res));
      room.emit("go");
      await hi;
      const out = { heard, connected: [room.connected, bracket.connected] };
      room.disconnect();
      bracket.disconnect();
      return out;
    }, server.url);
    assert.deepEqual(r, {
      heard: [
        ["/room[1]", "hello", "from [1]"],
        ["/room[1]", "hi", "to [1]"],
      ],
      connected: [true, true],
    });
    assert.deepEqual(errors, []);
    await close();
    await server.close();
  });

  test("upgrade from polling to WebSocket without losing or reordering events", async () => {
    const transports = [];
    const server = await startIo(echo(transports));
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    const r = await pg.evaluate(async (url) => {
      const socket = io(url);
      const upgraded = new Promise((res) => socket.io.engine.on("upgrade", (t) => res(t.name)));
      const received = [];
      socket.on("seq", (n) => received.push(n));
      const first = await new Promise((res) => socket.io.on("open", () => res(socket.io.engine.transport.name)));
      for (let i = 0; i < 200; i++) socket.emit("seq", i); // spans the upgrade
      const upgrade = await upgraded;
      while (received.length < 200) await new Promise((res) => setTimeout(res, 10));
      const out = { first, upgrade, now: socket.io.engine.transport.name, inOrder: received.every((n, i) => n === i) };
      socket.disconnect();
      return out;
    }, server.url);
    assert.deepEqual(r, { first: "polling", upgrade: "websocket", now: "websocket", inOrder: true });
    assert.deepEqual(transports, ["polling", "upgrade:websocket"]);
    assert.deepEqual(errors, []);
    await close();
    await server.close();
  });

  test("reconnection after the server restarts", async () => {
    let server = await startIo(echo([]));
    const { port } = server;
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    await pg.evaluate(async (url) => {
      const socket = io(url, { reconnectionDelay: 100, reconnectionDelayMax: 200 });
      window.log = [];
      socket.on("disconnect", (reason) => log.push("disconnect:" + reason));
      socket.io.on("reconnect_attempt", (n) => log.push("attempt"));
      socket.io.on("reconnect", (n) => log.push("reconnect:" + n));
      socket.on("connect", () => log.push("connect"));
      window.socket = socket;
      await new Promise((res) => socket.on("connect", res));
    }, server.url);
    await crash(server);
    // Whether the crash reaches a WebSocket (transport close) or a poll in flight (transport
    // error) depends on when the upgrade completed: both are what socket.io-client reports.
    await pg
      .waitForFunction(() => log.some((l) => l.startsWith("disconnect:")) && log.includes("attempt"))
      .catch(async (error) => assert.fail(`${error.message}; log: ${JSON.stringify(await pg.evaluate(() => log))}`));
    await new Promise((r) => setTimeout(r, 300)); // a few refused attempts
    server = await startIo(echo([]), {}, port);
    await pg.waitForFunction(() => log.filter((l) => l === "connect").length === 2, null, { timeout: 10000 });
    const r = await pg.evaluate(async () => ({
      log: log.filter((l, i) => l !== "attempt" || log[i - 1] !== "attempt"),
      echo: await socket.emitWithAck("echo", "back"),
      connected: socket.connected,
    }));
    assert.equal(r.echo, "back");
    assert.equal(r.connected, true);
    assert.deepEqual(r.log[0], "connect");
    assert.match(r.log[1], /^disconnect:transport (close|error)$/);
    assert.deepEqual(r.log[2], "attempt");
    assert.match(r.log.at(-2), /^reconnect:\d+$/);
    assert.equal(r.log.at(-1), "connect");
    assert.ok(errors.every((e) => /ERR_CONNECTION_REFUSED/.test(e.message)), String(errors));
    await pg.evaluate(() => socket.disconnect());
    await close();
    await server.close();
  });

  test("connection state recovery restores the session and missed events", async () => {
    const serverSockets = [];
    const server = await startIo(
      (io) =>
        io.on("connection", (socket) => {
          serverSockets.push({ id: socket.id, recovered: socket.recovered });
          socket.join("room");
          socket.on("drop", () => socket.conn.close()); // the network drops, no DISCONNECT
        }),
      { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } },
    );
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    await pg.evaluate(async (url) => {
      const socket = io(url, { reconnectionDelay: 300, reconnectionDelayMax: 300 });
      window.socket = socket;
      window.got = [];
      window.states = [];
      socket.on("msg", (m) => got.push(m));
      socket.on("connect", () => states.push([socket.id, socket.recovered]));
      socket.on("disconnect", (reason) => states.push(reason));
      await new Promise((res) => socket.on("connect", res));
    }, server.url);
    server.io.to("room").emit("msg", "one");
    await pg.waitForFunction(() => got.length === 1);
    await pg.evaluate(() => socket.emit("drop"));
    await pg.waitForFunction(() => states.length === 2);
    server.io.to("room").emit("msg", "missed"); // while the client is away
    await pg.waitForFunction(() => states.length === 3, null, { timeout: 10000 });
    await pg.waitForFunction(() => got.length === 2);
    const r = await pg.evaluate(() => ({ got, states }));
    assert.deepEqual(r.got, ["one", "missed"]);
    assert.equal(r.states[1], "transport close");
    assert.deepEqual(r.states[2], [r.states[0][0], true]); // same id, recovered
    assert.deepEqual(serverSockets, [
      { id: r.states[0][0], recovered: false },
      { id: r.states[0][0], recovered: true },
    ]);
    assert.deepEqual(errors, []);
    await pg.evaluate(() => socket.disconnect());
    await close();
    await server.close();
  });

  test("connection state recovery over a WebSocket: the events handed over without the core still move the offset the next CONNECT recovers from", async () => {
    // Plain events take the page's shortcut (their offsets kept by the page, reported at the
    // disconnection); a binary event and one with an ack id go through the core, which keeps
    // the offset of the first and not of the second. A wrong offset replays some twice.
    const server = await startIo(
      (io) =>
        io.on("connection", (socket) => {
          socket.join("room");
          socket.on("drop", () => socket.conn.close());
        }),
      { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } },
    );
    const { page: pg, errors, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    await pg.evaluate(async (url) => {
      const socket = io(url, { transports: ["websocket"], reconnectionDelay: 300, reconnectionDelayMax: 300 });
      window.socket = socket;
      window.got = [];
      window.recovered = [];
      socket.on("msg", (m, ack) => {
        got.push(typeof m === "string" ? m : [...new Uint8Array(m)]);
        if (typeof ack === "function") ack();
      });
      socket.on("connect", () => recovered.push(socket.recovered));
      await new Promise((res) => socket.on("connect", res));
    }, server.url);
    const room = () => server.io.to("room");
    const sequences = [
      () => (room().emit("msg", "a"), room().emit("msg", "b")),
      () => room().emit("msg", Buffer.from([1])),
      () => (room().emit("msg", "d"), room().timeout(5000).emit("msg", "e", () => {})),
    ];
    const expected = [];
    for (const [i, send] of sequences.entries()) {
      send();
      expected.push(...[["a", "b"], [[1]], ["d", "e"]][i]);
      await pg.waitForFunction((n) => got.length === n, expected.length);
      await pg.evaluate(() => socket.emit("drop"));
      await pg.waitForFunction(() => !socket.connected);
      room().emit("msg", `missed ${i}`); // while the client is away
      expected.push(`missed ${i}`);
      await pg.waitForFunction(() => socket.connected, null, { timeout: 10_000 });
      // What the recovery replays: the missed event, or (from a wrong offset) more, or nothing.
      await pg.waitForFunction((n) => got.length >= n, expected.length, { timeout: 2_000 }).catch(() => {});
      await new Promise((r) => setTimeout(r, 200)); // a replayed duplicate would come meanwhile
    }
    const r = await pg.evaluate(() => ({ got, recovered }));
    assert.deepEqual(r.got, expected);
    assert.deepEqual(r.recovered, [false, true, true, true]);
    assert.deepEqual(errors, []);
    await pg.evaluate(() => socket.disconnect());
    await close();
    await server.close();
  });

  test("a wasm download that fails is a failed connection: told, tried again, and what was asked meanwhile runs once it loads", async () => {
    const server = await startIo(echo([]));
    const { page: pg, close } = await openPage(browser, `${web.url}/pages/esm.html`);
    let requests = 0;
    // The first download of the module fails as on a network blip; the next ones pass.
    await pg.context().route(/wasmio_bg\.wasm$/, (route) => (requests++ === 0 ? route.abort("internetdisconnected") : route.continue()));
    await pg.evaluate((url) => {
      window.socket = io(url, { reconnectionDelay: 100, reconnectionDelayMax: 200 });
      window.loadErrors = [];
      socket.on("connect_error", (e) => loadErrors.push(e.message));
      window.early = socket.emitWithAck("echo", "asked while loading");
    }, server.url);
    await pg.waitForFunction(() => socket.connected, null, { timeout: 10_000 });
    const r = await pg.evaluate(async () => ({ errors: loadErrors, early: await early, late: await socket.emitWithAck("echo", "after") }));
    await pg.evaluate(() => socket.disconnect());
    assert.equal(r.errors.length, 1, `one connect_error for the failed download: ${JSON.stringify(r.errors)}`);
    assert.deepEqual([r.early, r.late], ["asked while loading", "after"]);
    assert.equal(requests, 2);
    await close();
    await server.close();
  });
});
